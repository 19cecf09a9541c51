package simulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AzureCLICloudName is the name `vigil simulate` registers the simulator
// under in Azure CLI.
const AzureCLICloudName = "VigilSimulator"

// AzureCLISetup writes what Azure CLI 2.45 needs to log in to a simulator
// into dir, and returns the shell commands, one a line, that point az at
// it and run `az security alert list` (README.md, "Azure CLI"):
//
//   - azure/: the az profile (AZURE_CONFIG_DIR), kept apart from the
//     user's own so that registering a cloud does not touch it;
//   - az-ca.pem: the simulator's CA and the discovery proxy's, for
//     REQUESTS_CA_BUNDLE (python requests trusts only that file);
//   - az-cloud.json: AzureCLICloudConfig for az cloud register.
//
// The commands are plain `export K=V` and `az …` lines, quoted for a
// POSIX shell, so that a script can also run them one by one.
func AzureCLISetup(sv *Server, proxy *DiscoveryProxy, dir string) ([]string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("azure cli setup: %w", err)
	}
	cfgDir := filepath.Join(dir, "azure")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return nil, fmt.Errorf("azure cli setup: %w", err)
	}
	bundle := filepath.Join(dir, "az-ca.pem")
	pem := append(append([]byte{}, sv.CA.CertPEM...), proxy.CAPEM...)
	if err := os.WriteFile(bundle, pem, 0o644); err != nil {
		return nil, fmt.Errorf("azure cli setup: write CA bundle: %w", err)
	}
	cloud := filepath.Join(dir, "az-cloud.json")
	if err := os.WriteFile(cloud, []byte(AzureCLICloudConfig(sv.URL)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("azure cli setup: write cloud config: %w", err)
	}
	i := sv.Info
	return []string{
		"export AZURE_CONFIG_DIR=" + shellQuote(cfgDir),
		"export REQUESTS_CA_BUNDLE=" + shellQuote(bundle),
		"export HTTPS_PROXY=" + shellQuote(proxy.URL),
		"export NO_PROXY=127.0.0.1,localhost",
		"az cloud register --name " + AzureCLICloudName + " --cloud-config @" + shellQuote(cloud),
		"az cloud set --name " + AzureCLICloudName,
		"az login --service-principal --username " + shellQuote(i.ClientID) + " --password " + shellQuote(i.ClientSecret) +
			" --tenant " + shellQuote(i.TenantID),
		"az security alert list",
	}, nil
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that are safe bare.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
