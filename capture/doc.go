// Package capture turns captured frames into classified UDP payloads: it reads packet sources
// (pcap/pcapng files) and decodes link, IP and UDP headers without allocating per packet.
package capture
