package loadgen

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vigil-soc/vigil/internal/alert"
)

// The catalogue below imitates what vigil really receives: the titles,
// products and entity shapes of Defender for Cloud, Sentinel analytics,
// Entra ID Protection, Defender for Cloud Apps and an EDR. A benchmark that
// posts "test alert 1..N" with no entities would measure a server doing
// less work (entity validation, fingerprinting, grouping) than in use.
//
// Every address, domain and URL is from a range reserved for documentation
// (RFC 5737 TEST-NETs, RFC 2606 .example/.test, contoso), so a payload never
// names a real host, even if someone pivots on it in a UI.

// entityNeed names one entity an alert type carries.
type entityNeed int

const (
	needHost entityNeed = iota
	needPrivateIP
	needPublicIP
	needAccount
	needFileHash
	needURL
	needDomain
	needVM
	needSQLServer
	needKeyVault
	needStorage
	needSubscription
	needAKS
)

// alertType is one catalogue entry.
type alertType struct {
	title    string
	alertAM  string // alertname label for the Alertmanager format
	product  string
	job      string // Alertmanager job label: the sender's slug
	severity alert.Severity
	tactic   string // MITRE ATT&CK tactic, kept as a label/attr
	needs    []entityNeed
	// describe renders the description from the generated entities.
	describe func(e *entitySet) string
}

const (
	productMDC     = "Microsoft Defender for Cloud"
	productSent    = "Microsoft Sentinel"
	productMDCA    = "Microsoft Defender for Cloud Apps"
	productIDP     = "Microsoft Entra ID Protection"
	productFalcon  = "CrowdStrike Falcon"
	productMDO     = "Microsoft Defender for Office 365"
	jobMDC         = "defender-for-cloud"
	jobSentinel    = "sentinel"
	jobMDCA        = "defender-for-cloud-apps"
	jobIDP         = "entra-id-protection"
	jobFalcon      = "crowdstrike-falcon"
	jobMDO         = "defender-for-office"
	sevInfo        = alert.SeverityInformational
	sevLow         = alert.SeverityLow
	sevMedium      = alert.SeverityMedium
	sevHigh        = alert.SeverityHigh
	sevCritical    = alert.SeverityCritical
	tacticExec     = "Execution"
	tacticInitial  = "InitialAccess"
	tacticCred     = "CredentialAccess"
	tacticImpact   = "Impact"
	tacticExfil    = "Exfiltration"
	tacticPersist  = "Persistence"
	tacticC2       = "CommandAndControl"
	tacticDiscover = "Discovery"
	tacticPrivEsc  = "PrivilegeEscalation"
)

var catalogue = []alertType{
	{
		title: "Suspicious PowerShell command line", alertAM: "SuspiciousPowerShellCommandLine",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticExec,
		needs: []entityNeed{needHost, needPrivateIP, needAccount, needVM},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("A suspicious PowerShell command line was executed on %s by %s: powershell.exe -nop -w hidden -enc %s. Encoded commands are commonly used by attackers to download and run payloads without touching disk.", e.host, e.upn, e.blob)
		},
	},
	{
		title: "Anomalous login from unusual location", alertAM: "AnomalousLoginUnusualLocation",
		product: productMDC, job: jobMDC, severity: sevMedium, tactic: tacticInitial,
		needs: []entityNeed{needAccount, needPublicIP, needSQLServer},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("Someone logged on to SQL server %s as %s from %s, a location that is unusual for this server. The login may be legitimate (new employee, travel) or an attacker using stolen credentials.", e.resName, e.upn, e.publicIP)
		},
	},
	{
		title: "Brute force attack against Azure Portal", alertAM: "BruteForceAzurePortal",
		product: productSent, job: jobSentinel, severity: sevMedium, tactic: tacticCred,
		needs: []entityNeed{needAccount, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%d failed Azure Portal sign-ins for %s from %s within 20 minutes (threshold 10). Analytics rule: Brute force attack against Azure Portal.", e.count, e.upn, e.publicIP)
		},
	},
	{
		title: "Impossible travel activity", alertAM: "ImpossibleTravel",
		product: productMDCA, job: jobMDCA, severity: sevMedium, tactic: tacticInitial,
		needs: []entityNeed{needAccount, needPublicIP, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s signed in from %s and, %d minutes later, from %s; the distance cannot be covered in that time.", e.upn, e.publicIPs[0], e.count, e.publicIPs[len(e.publicIPs)-1])
		},
	},
	{
		title: "Digital currency mining related behavior detected", alertAM: "CryptoMiningBehavior",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticImpact,
		needs: []entityNeed{needHost, needVM, needFileHash, needDomain},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("Process xmrig (SHA256 %s) on %s connected to mining pool %s:3333. Crypto-mining on cloud VMs usually means the VM was compromised.", e.hash, e.host, e.domain)
		},
	},
	{
		title: "Successful brute force attack", alertAM: "SuccessfulBruteForceRDP",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticCred,
		needs: []entityNeed{needHost, needPublicIP, needAccount, needVM},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%d failed RDP logons to %s from %s were followed by a successful logon as %s.", e.count, e.host, e.publicIP, e.upn)
		},
	},
	{
		title: "Mass download by a single user", alertAM: "MassDownloadSingleUser",
		product: productMDCA, job: jobMDCA, severity: sevMedium, tactic: tacticExfil,
		needs: []entityNeed{needAccount, needPublicIP, needURL},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s downloaded %d files from %s in 5 minutes, far above the user's baseline.", e.upn, e.count*10, e.url)
		},
	},
	{
		title: "Suspicious inbox forwarding rule", alertAM: "SuspiciousInboxForwardingRule",
		product: productMDO, job: jobMDO, severity: sevMedium, tactic: tacticExfil,
		needs: []entityNeed{needAccount, needDomain, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s created an inbox rule forwarding all mail to an address at %s from %s.", e.upn, e.domain, e.publicIP)
		},
	},
	{
		title: "Antimalware Action Taken", alertAM: "AntimalwareActionTaken",
		product: productMDC, job: jobMDC, severity: sevLow, tactic: tacticExec,
		needs: []entityNeed{needHost, needFileHash, needVM},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("Microsoft Antimalware quarantined Trojan:Win32/Wacatac.B!ml (SHA256 %s) on %s.", e.hash, e.host)
		},
	},
	{
		title: "Access from a TOR exit node to a key vault", alertAM: "KeyVaultTorAccess",
		product: productMDC, job: jobMDC, severity: sevMedium, tactic: tacticCred,
		needs: []entityNeed{needKeyVault, needPublicIP, needAccount},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("Key vault %s was accessed by %s from %s, a known TOR exit node.", e.resName, e.upn, e.publicIP)
		},
	},
	{
		title: "Unusual amount of data extracted from a storage account", alertAM: "StorageUnusualDataExtraction",
		product: productMDC, job: jobMDC, severity: sevMedium, tactic: tacticExfil,
		needs: []entityNeed{needStorage, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%d GB were read from storage account %s by %s, compared to a daily baseline of 2 GB.", e.count, e.resName, e.publicIP)
		},
	},
	{
		title: "Potential SQL injection", alertAM: "PotentialSQLInjection",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticInitial,
		needs: []entityNeed{needSQLServer, needHost, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("Application host %s sent a statement to %s that looks like SQL injection: SELECT * FROM users WHERE id = '1' OR '1'='1'; client %s.", e.host, e.resName, e.publicIP)
		},
	},
	{
		title: "Detected possible credential dumping", alertAM: "CredentialDumping",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticCred,
		needs: []entityNeed{needHost, needAccount, needFileHash, needVM},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("A process on %s run by %s accessed lsass.exe memory in a way typical of Mimikatz (image SHA256 %s).", e.host, e.upn, e.hash)
		},
	},
	{
		title: "Ransomware file encryption activity", alertAM: "RansomwareEncryption",
		product: productFalcon, job: jobFalcon, severity: sevCritical, tactic: tacticImpact,
		needs: []entityNeed{needHost, needAccount, needFileHash, needPrivateIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%d files on %s were renamed with extension .lockbit within 60 seconds by a process of %s (SHA256 %s). Volume shadow copies were deleted.", e.count*40, e.host, e.upn, e.hash)
		},
	},
	{
		title: "Communication with suspicious domain identified by threat intelligence", alertAM: "ThreatIntelSuspiciousDomain",
		product: productMDC, job: jobMDC, severity: sevMedium, tactic: tacticC2,
		needs: []entityNeed{needHost, needDomain, needPrivateIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s (%s) resolved %s, listed by Microsoft Threat Intelligence as a command-and-control domain.", e.host, e.privateIP, e.domain)
		},
	},
	{
		title: "Suspicious invocation of a high-risk 'Credential Access' operation detected", alertAM: "ARMHighRiskCredentialAccess",
		product: productMDC, job: jobMDC, severity: sevMedium, tactic: tacticCred,
		needs: []entityNeed{needAccount, needPublicIP, needSubscription},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s called Microsoft.Compute/virtualMachines/runCommand/action and listKeys on subscription %s from %s.", e.upn, e.resName, e.publicIP)
		},
	},
	{
		title: "MFA Rejected by User", alertAM: "MFARejectedByUser",
		product: productSent, job: jobSentinel, severity: sevLow, tactic: tacticInitial,
		needs: []entityNeed{needAccount, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s rejected %d MFA prompts for sign-ins from %s; possible MFA fatigue attack.", e.upn, e.count%9+2, e.publicIP)
		},
	},
	{
		title: "Password spray", alertAM: "PasswordSpray",
		product: productIDP, job: jobIDP, severity: sevHigh, tactic: tacticCred,
		needs: []entityNeed{needAccount, needPublicIP},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s was one of %d accounts attacked with common passwords from %s; one sign-in succeeded.", e.upn, e.count*3, e.publicIP)
		},
	},
	{
		title: "Possible web shell detected", alertAM: "WebShellDetected",
		product: productMDC, job: jobMDC, severity: sevHigh, tactic: tacticPersist,
		needs: []entityNeed{needHost, needURL, needFileHash, needVM},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("w3wp.exe on %s spawned cmd.exe after a request to %s; the served file (SHA256 %s) matches a web shell.", e.host, e.url, e.hash)
		},
	},
	{
		title: "Privileged container detected", alertAM: "PrivilegedContainer",
		product: productMDC, job: jobMDC, severity: sevLow, tactic: tacticPrivEsc,
		needs: []entityNeed{needAKS, needHost},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("A privileged container was started in cluster %s on node %s, namespace default. Privileged containers can access the host.", e.resName, e.host)
		},
	},
	{
		title: "Network scanning activity detected", alertAM: "NetworkScanning",
		product: productSent, job: jobSentinel, severity: sevInfo, tactic: tacticDiscover,
		needs: []entityNeed{needPrivateIP, needHost},
		describe: func(e *entitySet) string {
			return fmt.Sprintf("%s (%s) connected to %d distinct ports on 40 internal hosts within 10 minutes.", e.host, e.privateIP, e.count*20)
		},
	},
}

var (
	firstNames = []string{"alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf"}
	lastNames  = []string{"martin", "nguyen", "smith", "garcia", "mueller", "rossi", "kowalski", "tanaka", "silva", "dubois", "okafor", "jensen"}
	hostRoles  = []string{"vm-web", "vm-app", "vm-sql", "dc", "wks", "srv-file", "jump", "vm-build", "srv-exch", "vm-k8s"}
	// RFC 5737 documentation ranges: realistic-looking public addresses
	// that belong to nobody.
	publicNets = []string{"192.0.2.", "198.51.100.", "203.0.113."}
	badDomains = []string{"pool.minexmr.example", "update-msft-cdn.example", "login-microsoftonline.test", "cdn-static-files.example", "xmr.pool-eu.test", "mail-relay-secure.example", "paste-bin-raw.test"}
	urlHosts   = []string{"contoso.sharepoint.example", "intranet.contoso.example", "shop.contoso.example", "api.contoso.example"}
	urlPaths   = []string{"/sites/finance/Shared%20Documents", "/aspnet_client/system_web/shell.aspx", "/wp-content/uploads/2024/x.php", "/Shared%20Documents/HR", "/owa/auth/errorEE.aspx"}
	rgNames    = []string{"rg-prod-web", "rg-prod-data", "rg-shared-identity", "rg-dev-sandbox", "rg-prod-aks"}
	locations  = []string{"westeurope", "northeurope", "eastus2", "uksouth"}
)

// entitySet is what one alert instance is about. It is generated once per
// template and rendered into both wire formats, so the two servers get the
// same logical alert.
type entitySet struct {
	host, privateIP, publicIP, upn string
	publicIPs                      []string
	hash, url, domain              string
	resID, resName, resType        string
	blob                           string // base64-ish noise for command lines
	count                          int
	entities                       []alert.Entity
}

// subscriptions is a small fixed set of tenant subscriptions, derived from
// the seed, so resource ids repeat the way they do in a real tenant.
func subscriptions(seed int64) []string {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5b5))
	subs := make([]string, 4)
	for i := range subs {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		subs[i] = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return subs
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// newEntities generates the entities an alert type needs.
func newEntities(r *rand.Rand, subs []string, t *alertType) *entitySet {
	e := &entitySet{count: 10 + r.IntN(90)}
	first, last := pick(r, firstNames), pick(r, lastNames)
	e.upn = first + "." + last + "@contoso.com"
	e.host = fmt.Sprintf("%s-%02d.corp.contoso.com", pick(r, hostRoles), 1+r.IntN(40))
	e.privateIP = fmt.Sprintf("10.%d.%d.%d", r.IntN(8), r.IntN(256), 1+r.IntN(254))
	const blobChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var blob strings.Builder
	for range 48 {
		blob.WriteByte(blobChars[r.IntN(len(blobChars))])
	}
	e.blob = blob.String()
	add := func(kind alert.EntityKind, value string, attrs map[string]string) {
		e.entities = append(e.entities, alert.Entity{Kind: kind, Value: value, Attrs: attrs})
	}
	resource := func(provider, prefix string) {
		sub, rg := pick(r, subs), pick(r, rgNames)
		e.resName = fmt.Sprintf("%s-%s-%02d", prefix, pick(r, locations), 1+r.IntN(20))
		e.resType = provider
		e.resID = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + provider + "/" + e.resName
		add(alert.EntityCloudResource, e.resID, map[string]string{"type": provider})
	}
	for _, n := range t.needs {
		switch n {
		case needHost:
			add(alert.EntityHost, e.host, map[string]string{"os": pick(r, []string{"Windows Server 2022", "Windows 11", "Ubuntu 22.04"})})
		case needPrivateIP:
			add(alert.EntityIP, e.privateIP, map[string]string{"scope": "private"})
		case needPublicIP:
			ip := pick(r, publicNets) + fmt.Sprint(1+r.IntN(254))
			e.publicIPs = append(e.publicIPs, ip)
			e.publicIP = e.publicIPs[0]
			add(alert.EntityIP, ip, map[string]string{"scope": "public", "country": pick(r, []string{"NL", "RU", "BR", "US", "VN", "NG"})})
		case needAccount:
			add(alert.EntityAccount, e.upn, map[string]string{"upn": e.upn, "name": first + " " + last})
		case needFileHash:
			var b [32]byte
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			e.hash = hex.EncodeToString(b[:])
			add(alert.EntityFileHash, e.hash, map[string]string{"algorithm": "SHA256"})
		case needURL:
			e.url = "https://" + pick(r, urlHosts) + pick(r, urlPaths)
			add(alert.EntityURL, e.url, nil)
		case needDomain:
			e.domain = pick(r, badDomains)
			add(alert.EntityDomain, e.domain, nil)
		case needVM:
			// The VM of the host entity: keep the names consistent.
			short, _, _ := strings.Cut(e.host, ".")
			sub, rg := pick(r, subs), pick(r, rgNames)
			e.resName, e.resType = short, "Microsoft.Compute/virtualMachines"
			e.resID = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + short
			add(alert.EntityCloudResource, e.resID, map[string]string{"type": e.resType})
		case needSQLServer:
			resource("Microsoft.Sql/servers", "sql")
		case needKeyVault:
			resource("Microsoft.KeyVault/vaults", "kv")
		case needStorage:
			resource("Microsoft.Storage/storageAccounts", "st")
		case needAKS:
			resource("Microsoft.ContainerService/managedClusters", "aks")
		case needSubscription:
			sub := pick(r, subs)
			e.resName, e.resType = sub, "Microsoft.Resources/subscriptions"
			e.resID = "/subscriptions/" + sub
			add(alert.EntityCloudResource, e.resID, map[string]string{"type": e.resType})
		}
	}
	return e
}
