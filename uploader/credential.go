package uploader

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"software.sslmate.com/src/go-pkcs12"
)

// appCredential is the app's proof of identity, read from wherever the config says, plus the
// secret strings it holds so error text from a server can be scrubbed of them.
type appCredential struct {
	cred    confidential.Credential
	secrets []string // the client secret or the certificate password; never logged
}

// credential reads the client secret, or the certificate and its key. It is read again each
// time the MSAL client is built (at start, after a refused token, after a 401), so a rotated
// secret or certificate is picked up without a restart.
func (g *GraphConfig) credential() (appCredential, error) {
	if g.CertificateFile == "" {
		secret, err := g.secretSource().read()
		if err != nil {
			return appCredential{}, err
		}
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			return appCredential{}, fmt.Errorf("uploader.graph.client_secret: %w", err)
		}
		return appCredential{cred: cred, secrets: []string{secret}}, nil
	}
	var password string
	if g.passwordSource().count() > 0 {
		p, err := g.passwordSource().read()
		if err != nil {
			return appCredential{}, err
		}
		password = p
	}
	data, err := os.ReadFile(g.CertificateFile)
	if err != nil {
		return appCredential{}, fmt.Errorf("uploader.graph.certificate_file: %w", err)
	}
	certs, key, err := parseCertificate(data, password)
	if err != nil {
		// Neither library puts the password in its errors; scrub anyway, it costs nothing.
		return appCredential{}, fmt.Errorf("uploader.graph.certificate_file: %q: %s", g.CertificateFile, redact(err.Error(), password))
	}
	cred, err := confidential.NewCredFromCert(certs, key)
	if err != nil {
		return appCredential{}, fmt.Errorf("uploader.graph.certificate_file: %q: %w", g.CertificateFile, err)
	}
	return appCredential{cred: cred, secrets: []string{password}}, nil
}

// parseCertificate reads a PEM file (certificate and private key, the key optionally encrypted)
// or a PKCS#12 file (.pfx/.p12, with or without a password; the AES-encrypted kind that OpenSSL
// 3 and current Windows export included, which golang.org/x/crypto/pkcs12 cannot read).
func parseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, key, err := confidential.CertFromPEM(data, password)
		if err != nil {
			return nil, nil, fmt.Errorf("read PEM: %w", err)
		}
		return certs, key, nil
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, errors.New("read PKCS#12: wrong certificate password")
		}
		return nil, nil, fmt.Errorf("read PKCS#12: %w", err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}
