package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// systemdUnit is the Linux unit: the least privilege that captures, i.e. no root. DynamicUser
// gives a throw-away user; CAP_NET_RAW (ambient, and the only one in the bounding set) opens
// AF_PACKET sockets; StateDirectory and LogsDirectory give it /var/lib/tdq-agent (the spool) and
// /var/log/tdq-agent; the rest of the file system is read-only to it. The client secret can come
// from /etc/tdq-agent/environment, read by systemd as root and never by the agent's user.
func systemdUnit(exe, config string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
	return `[Unit]
Description=tdq-agent: network quality of this room device's calls to Microsoft Graph
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=` + q(exe) + ` service run --config ` + q(config) + `
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
TimeoutStopSec=20
EnvironmentFile=-/etc/tdq-agent/environment
DynamicUser=yes
StateDirectory=tdq-agent
LogsDirectory=tdq-agent
AmbientCapabilities=CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_RAW
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_PACKET AF_NETLINK AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`
}

func unitPath(root string) string {
	return filepath.Join(root, "etc", "systemd", "system", serviceName+".service")
}

// installSystemd writes the unit under root and, on a live system, enables it.
func installSystemd(root, exe, config string) error {
	p := unitPath(root)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := os.WriteFile(p, []byte(systemdUnit(exe, config)), 0o644); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	fmt.Println("wrote", p)
	for _, path := range []string{exe, config} {
		for _, hidden := range []string{"/tmp/", "/home/", "/root/"} {
			if strings.HasPrefix(path, hidden) {
				// PrivateTmp and ProtectHome hide these from the service: it would not start.
				fmt.Fprintf(os.Stderr, "warning: %s is under %s, which the service cannot see; install the binary and config elsewhere (e.g. /usr/local/bin, /etc/tdq-agent)\n", path, hidden)
			}
		}
	}
	if root != "/" {
		return nil
	}
	return systemctl("daemon-reload", "enable "+serviceName)
}

// uninstallSystemd disables the unit on a live system and removes it.
func uninstallSystemd(root string) error {
	if root == "/" {
		if err := systemctl("disable " + serviceName); err != nil && err != errNoSystemd {
			return err
		}
	}
	if err := os.Remove(unitPath(root)); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	if root == "/" {
		return systemctl("daemon-reload")
	}
	return nil
}

func systemctl(commands ...string) error {
	path, err := exec.LookPath("systemctl")
	if err != nil {
		return errNoSystemd
	}
	for _, c := range commands {
		if out, err := exec.Command(path, strings.Fields(c)...).CombinedOutput(); err != nil {
			return fmt.Errorf("systemctl %s: %w: %s", c, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
