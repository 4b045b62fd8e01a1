package agent

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"
)

// NewLogger builds the agent's logger from the log section: console or JSON, to standard error
// or to a file that rotates by size (the rotated files are kept by count and age, compressed).
func NewLogger(cfg LogConfig) (*zap.Logger, error) {
	log, _, err := NewLoggerLevel(cfg)
	return log, err
}

// NewLoggerLevel is NewLogger with the level as a handle, so a config reload can change it.
func NewLoggerLevel(cfg LogConfig) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log.level: %w", err)
	}
	level := zap.NewAtomicLevelAt(lvl)
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Format == "json" {
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	out := zapcore.Lock(os.Stderr)
	if cfg.File != "" {
		// Open once now so that a path the agent cannot write fails at start, not silently.
		f, err := os.OpenFile(cfg.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, level, fmt.Errorf("open log file: %w", err)
		}
		f.Close()
		out = zapcore.AddSync(&lumberjack.Logger{
			Filename:   cfg.File,
			MaxSize:    cfg.MaxSizeMB,
			MaxBackups: cfg.MaxBackups,
			MaxAge:     int(cfg.MaxAge.Hours() / 24),
			Compress:   true,
		})
	}
	return zap.New(zapcore.NewCore(enc, out, level)), level, nil
}
