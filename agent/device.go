package agent

import (
	"os"
	"runtime"
	"strings"
)

// hostDescription says what the device is, as the OS tells it: on Linux the DMI vendor and
// product and the distribution's name; elsewhere the OS and architecture.
func hostDescription() string {
	var parts []string
	if runtime.GOOS == "linux" {
		vendor := readTrim("/sys/class/dmi/id/sys_vendor")
		product := readTrim("/sys/class/dmi/id/product_name")
		if hw := strings.TrimSpace(vendor + " " + product); hw != "" {
			parts = append(parts, hw)
		}
		if os := osRelease(); os != "" {
			parts = append(parts, os)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, runtime.GOOS)
	}
	return strings.Join(parts, ", ") + " (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func hostName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown-device"
}

// withHostDefaults fills an empty device name and description from the host.
func withHostDefaults(dev DeviceConfig) DeviceConfig {
	if dev.Name == "" {
		dev.Name = hostName()
	}
	if dev.Description == "" {
		dev.Description = hostDescription()
	}
	return dev
}
