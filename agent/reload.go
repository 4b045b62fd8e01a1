package agent

import (
	"reflect"

	"go.uber.org/zap"
)

// Reload applies a new, already validated config to a running agent (SIGHUP, `service reload`).
// The device's names change at once, for the calls that end from now on; the log level is the
// caller's (it owns the logger). Every other section that differs is returned by key, as the
// captures, the spool and the Graph client are built at start and take a restart.
func (a *Agent) Reload(next Config) (needRestart []string) {
	a.devMu.Lock()
	dev := withHostDefaults(next.Device)
	changed := dev != a.device
	a.device = dev
	a.devMu.Unlock()
	if changed {
		a.log.Info("device names reloaded", zap.String("deviceName", dev.Name))
	}
	cur := a.cfg
	for _, s := range []struct {
		key      string
		old, new any
	}{
		{"capture", cur.Capture, next.Capture},
		{"call", cur.Call, next.Call},
		{"metrics", cur.Metrics, next.Metrics},
		{"uploader", cur.Uploader, next.Uploader},
		{"ops", cur.Ops, next.Ops},
		{"log.format", cur.Log.Format, next.Log.Format},
		{"log.file", [4]any{cur.Log.File, cur.Log.MaxSizeMB, cur.Log.MaxBackups, cur.Log.MaxAge}, [4]any{next.Log.File, next.Log.MaxSizeMB, next.Log.MaxBackups, next.Log.MaxAge}},
	} {
		if !reflect.DeepEqual(s.old, s.new) {
			needRestart = append(needRestart, s.key)
		}
	}
	return needRestart
}
