module github.com/tdq-agent/tdq-agent

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/gopacket/gopacket v1.7.7
	github.com/pion/rtcp v1.2.20
	go.uber.org/goleak v1.3.0
	go.uber.org/zap v1.28.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
