package redact

import (
	"math"
	"regexp"
	"strings"
	"sync"
)

// The built-in detectors. Each is a regular expression for one kind of
// secret, taken from well-kept secret scanners' rules (gitleaks'
// config/gitleaks.toml, trufflehog's detectors, Yelp's detect-secrets
// plugins) where those are precise: a fixed prefix, a fixed length or a
// key=value context. docs/redaction.md lists them with their known false
// positives; detectors_test.go holds a secret and the gateway's ordinary
// values for each. Specific detectors come first, so that a token is named
// for what it is rather than for the generic key=value pair it sits in.

// detector replaces the matches of re in a value with [redacted:name]: the
// first capture group that took part in a match, or the whole match when re
// has no groups. It is tried only on a value that holds one of its needles
// (or, for fold, one in any ASCII case) and for which extra holds; valid,
// when set, may refuse a match (the secret text and the index of its group,
// 0 for the whole match).
type detector struct {
	name    string
	what    string   // for Detectors: what it finds
	needles []string // the value holds one of these …
	fold    []string // … or one of these (lower case), in any case
	extra   func(s string) bool
	re      func() *regexp.Regexp   // compiled when first needed: most never are
	find    func(s string) [][2]int // instead of re: the spans of the secrets
	valid   func(secret string, group int) bool
}

// Info describes one built-in detector.
type Info struct {
	Name string // the [redacted:NAME] tag and the metric label
	What string
}

// Detectors lists the built-in detectors, each name once, in the order
// they are applied.
func Detectors() []Info {
	var out []Info
	seen := map[string]bool{}
	for _, d := range builtins {
		if !seen[d.name] {
			seen[d.name] = true
			out = append(out, Info{Name: d.name, What: d.what})
		}
	}
	return out
}

// Tag is what a secret found by the named detector shows instead.
func Tag(name string) string { return "[redacted:" + name + "]" }

func (d *detector) redact(s string, c *Counts) string {
	if d.extra != nil && !d.extra(s) {
		return s
	}
	var locs [][]int
	if d.find != nil {
		for _, sp := range d.find(s) {
			locs = append(locs, sp[:])
		}
	} else {
		locs = d.re().FindAllStringSubmatchIndex(s, -1)
	}
	if locs == nil {
		return s
	}
	var b strings.Builder
	last, n := 0, 0
	for _, loc := range locs {
		start, end, group := groupSpan(loc)
		if start < last || start == end {
			continue
		}
		secret := s[start:end]
		if strings.HasPrefix(secret, "[redacted") || d.valid != nil && !d.valid(secret, group) {
			continue
		}
		if n == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		b.WriteString(Tag(d.name))
		last = end
		n++
	}
	if n == 0 {
		return s
	}
	b.WriteString(s[last:])
	c.Add(d.name, n)
	return b.String()
}

// groupSpan is the part of a match a detector replaces: the first capture
// group that took part in it (its index), or the whole match (0).
func groupSpan(loc []int) (start, end, group int) {
	for g := 2; g+1 < len(loc); g += 2 {
		if loc[g] >= 0 {
			return loc[g], loc[g+1], g / 2
		}
	}
	return loc[0], loc[1], 0
}

// lazy compiles expr the first time it is needed: a detector whose
// needles never occur costs no memory (TestEveryExpressionCompiles
// compiles them all).
func lazy(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

func minLen(n int) func(string) bool { return func(s string) bool { return len(s) >= n } }

// hasFlag is a gate: s has a - at its start or after white space, where a
// command-line flag begins.
func hasFlag(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n' || s[i-1] == '\r' || s[i-1] == '\f' || s[i-1] == '\v') {
			return true
		}
	}
	return false
}

// base64Words40 finds the words of exactly 40 base64 characters (A-Z a-z
// 0-9 / +) that no other base64 character or = touches: the shape of an
// AWS secret access key, scanned without a regular expression.
func base64Words40(s string) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isBase64Byte(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start == 40 && (i == len(s) || s[i] != '=') && (start == 0 || s[start-1] != '=') {
			out = append(out, [2]int{start, i})
		}
		start = -1
	}
	return out
}

func isBase64Byte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '+'
}

// hasLetterAndDigit: random tokens of 16 or more characters nearly always
// have both; words and identifiers in prose rarely do.
func hasLetterAndDigit(s string) bool {
	letter, digit := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		}
	}
	return letter && digit
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var freq [256]int
	for i := 0; i < len(s); i++ {
		freq[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// awsSecretShape is an AWS secret access key seen without its key name: 40
// characters of base64 with upper and lower case letters, a digit, a / or +,
// not a path, and random (a commit SHA is hex and has no / or +).
func awsSecretShape(s string, _ int) bool {
	if s[0] == '/' || !strings.ContainsAny(s, "/+") || !hasLetterAndDigit(s) ||
		strings.ToLower(s) == s || strings.ToUpper(s) == s {
		return false
	}
	return entropy(s) >= 4.3
}

// notPlaceholder refuses values that stand for a secret rather than being
// one: empty, true/false/null/none, all asterisks or x's (masked), or a
// reference ($VAR, ${VAR}, %s, {{…}}, <password>).
func notPlaceholder(s string, _ int) bool {
	s = strings.Trim(s, `"' `)
	switch strings.ToLower(s) {
	case "", "true", "false", "null", "nil", "none", "undefined", "empty", "redacted", "hidden", "masked", "secret", "password", "token":
		return false
	}
	if strings.Trim(s, "*xX•.") == "" {
		return false
	}
	switch s[0] {
	case '$', '%', '<', '{':
		return false
	}
	return true
}

// bareCredential is an Authorization value written without a scheme: only a
// long token with letters and digits, not a word such as "denied".
func bareCredential(s string, group int) bool {
	if group == 2 {
		return len(s) >= 16 && hasLetterAndDigit(s)
	}
	return notPlaceholder(s, group)
}

func lengthAndMix(s string, _ int) bool { return hasLetterAndDigit(s) }

var builtins = []*detector{
	{
		name: "private-key", what: "PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, PGP; to the end of the value when the END line is missing) and PuTTY key files",
		fold: []string{"private key", "putty-user-key-file"},
		re:   lazy(`(?i)-----BEGIN[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9_-]*PRIVATE KEY(?: BLOCK)?-----|\z)|PuTTY-User-Key-File-\d+:(?s:.*)`),
	},
	{
		name: "slack-webhook-url", what: "Slack incoming webhook and workflow URLs (hooks.slack.com/services/…, /workflows/…, /triggers/…)",
		needles: []string{"hooks.slack.com"},
		re:      lazy(`(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{8,}`),
	},
	{
		name: "slack-token", what: "Slack tokens: bot xoxb-, user xoxp-, app-level xapp-, legacy and configuration tokens (xoxa-, xoxo-, xoxs-, xoxr-, xoxe-)",
		needles: []string{"xox", "xapp-"},
		re:      lazy(`(?:xox[abposre](?:\.xox[bp])?-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})`),
		valid:   lengthAndMix,
	},
	{
		name: "aws-access-key-id", what: "AWS access key IDs (AKIA…, ASIA…, ABIA…, ACCA…, A3T…: 20 characters)",
		needles: []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"},
		re:      lazy(`(?:\b|_)((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
	},
	{
		name: "aws-secret-access-key", what: "AWS secret access keys: 40 characters after a name such as aws_secret_access_key or SecretAccessKey, or alone when they look random (mixed case, a digit, a / or +)",
		fold: []string{"secret"},
		re:   lazy(`(?i:(?:aws[_.-]?)?secret[_.-]?(?:access[_.-]?)?key)\\?["']?(?:\s*(?:=|:=|=>|:)\s*\\?["']?|\s+)([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)`),
	},
	{
		name:    "aws-secret-access-key",
		needles: []string{"/", "+"},
		extra:   minLen(40),
		find:    base64Words40,
		// A commit SHA or a path is not a secret.
		valid: awsSecretShape,
	},
	{
		name: "github-token", what: "GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server-to-server (ghs_), refresh (ghr_), fine-grained (github_pat_)",
		needles: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re:      lazy(`(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b`),
	},
	{
		name: "gitlab-token", what: "GitLab tokens: personal (glpat-), deploy (gldt-), runner (glrt-), pipeline trigger (glptt-), CI job (glcbt-), feed, mail, agent, OAuth, SCIM and feature-flag tokens, runner registration (GR1348941…), session cookies",
		needles: []string{"gl", "GR1348941", "_gitlab_session"},
		re:      lazy(`(?:gl(?:pat|dt|rt|ptt|cbt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_.-]{20,}|GR1348941[A-Za-z0-9_-]{20,})|_gitlab_session=[0-9a-z]{32}`),
	},
	{
		name: "jwt", what: "JSON Web Tokens (eyJ….eyJ…., signed or encrypted)",
		needles: []string{"eyJ", "ewo"},
		re:      lazy(`(?:eyJ|ewogIC|ewoid)[A-Za-z0-9_-]{10,}={0,2}\.(?:eyJ|ewo)[A-Za-z0-9_-]{10,}={0,2}(?:\.[A-Za-z0-9_=-]*){0,3}`),
	},
	{
		name: "stripe-key", what: "Stripe secret and restricted keys (sk_live_, rk_live_, …_test_) and webhook secrets (whsec_)",
		needles: []string{"k_live_", "k_test_", "k_prod_", "whsec_"},
		re:      lazy(`\b(?:[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{24,})\b`),
	},
	{
		name: "google-api-key", what: "Google Cloud API keys (AIza…)",
		needles: []string{"AIza"},
		re:      lazy(`\bAIza[0-9A-Za-z_-]{35}`),
	},
	{
		name: "npm-token", what: "npm access tokens (npm_…)",
		needles: []string{"npm_"},
		re:      lazy(`\bnpm_[A-Za-z0-9]{36}\b`),
	},
	{
		name: "pypi-token", what: "PyPI upload tokens (pypi-AgEIcHlwaS5vcmc…)",
		needles: []string{"pypi-AgEIcHlwaS5vcmc"},
		re:      lazy(`pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`),
	},
	{
		name: "sendgrid-api-key", what: "SendGrid API keys (SG.….…)",
		needles: []string{"SG."},
		re:      lazy(`\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b`),
	},
	{
		name: "openai-api-key", what: "OpenAI API keys (sk-…T3BlbkFJ…)",
		needles: []string{"T3BlbkFJ"},
		re:      lazy(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}`),
	},
	{
		name: "anthropic-api-key", what: "Anthropic API and admin keys (sk-ant-api03-…, sk-ant-admin01-…)",
		needles: []string{"sk-ant-"},
		re:      lazy(`\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}`),
	},
	{
		name: "digitalocean-token", what: "DigitalOcean personal, OAuth and refresh tokens (dop_v1_, doo_v1_, dor_v1_)",
		needles: []string{"_v1_"},
		re:      lazy(`\bdo[opr]_v1_[a-f0-9]{64}\b`),
	},
	{
		name: "hashicorp-vault-token", what: "HashiCorp Vault service, batch and recovery tokens (hvs., hvb., hvr.)",
		needles: []string{"hvs.", "hvb.", "hvr."},
		re:      lazy(`\bhv[sbr]\.[A-Za-z0-9_-]{24,}`),
	},
	{
		name: "terraform-cloud-token", what: "Terraform Cloud / Enterprise API tokens (….atlasv1.…)",
		needles: []string{".atlasv1."},
		re:      lazy(`\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}`),
	},
	{
		name: "age-secret-key", what: "age encryption secret keys (AGE-SECRET-KEY-1…)",
		needles: []string{"AGE-SECRET-KEY-1"},
		re:      lazy(`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`),
	},
	{
		name: "huggingface-token", what: "Hugging Face access and organization tokens (hf_…, api_org_…)",
		needles: []string{"hf_", "api_org_"},
		re:      lazy(`\b(?:hf|api_org)_[A-Za-z]{34}\b`),
	},
	{
		name: "shopify-token", what: "Shopify access tokens and shared secrets (shpat_, shpca_, shppa_, shpss_)",
		needles: []string{"shp"},
		re:      lazy(`\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b`),
	},
	{
		name: "databricks-token", what: "Databricks API tokens (dapi…)",
		needles: []string{"dapi"},
		re:      lazy(`\bdapi[a-f0-9]{32}(?:-\d)?\b`),
	},
	{
		name: "doppler-token", what: "Doppler tokens (dp.pt., dp.st., dp.sa., dp.ct., dp.scim., dp.audit.)",
		needles: []string{"dp."},
		re:      lazy(`\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}\b`),
	},
	{
		name: "heroku-api-key", what: "Heroku API keys (HRKU-AA…)",
		needles: []string{"HRKU-"},
		re:      lazy(`\bHRKU-AA[0-9A-Za-z_-]{58}`),
	},
	{
		name: "grafana-token", what: "Grafana Cloud tokens (glc_), service account tokens (glsa_) and API keys (eyJrIjoi…)",
		needles: []string{"glc_", "glsa_", "eyJrIjoi"},
		re:      lazy(`\b(?:glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{70,}={0,2})`),
	},
	{
		name: "pulumi-token", what: "Pulumi access tokens (pul-…)",
		needles: []string{"pul-"},
		re:      lazy(`\bpul-[a-f0-9]{40}\b`),
	},
	{
		name: "postman-api-key", what: "Postman API keys (PMAK-…)",
		needles: []string{"PMAK-"},
		re:      lazy(`\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b`),
	},
	{
		name: "linear-api-key", what: "Linear API keys and OAuth tokens (lin_api_, lin_oauth_)",
		needles: []string{"lin_"},
		re:      lazy(`\blin_(?:api|oauth)_[A-Za-z0-9]{40}\b`),
	},
	{
		name: "sentry-token", what: "Sentry user and organization tokens (sntryu_, sntrys_)",
		needles: []string{"sntry"},
		re:      lazy(`\b(?:sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9+/=_-]{50,})`),
	},
	{
		name: "planetscale-token", what: "PlanetScale tokens and passwords (pscale_tkn_, pscale_oauth_, pscale_pw_)",
		needles: []string{"pscale_"},
		re:      lazy(`\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,}`),
	},
	{
		name: "twilio-api-key", what: "Twilio API key SIDs (SK followed by 32 hex digits)",
		needles: []string{"SK"},
		re:      lazy(`\bSK[0-9a-fA-F]{32}\b`),
	},
	{
		name: "bearer-token", what: "the token of Authorization: Bearer …, and of any \"Bearer TOKEN\" whose token has 16 or more characters with letters and digits",
		fold: []string{"bearer"},
		re:   lazy(`(?i)\bauthorization\\?["']?\s*[:=]\s*\\?["']?\s*bearer\s+([A-Za-z0-9._~+/-]+=*)`),
	},
	{
		name:  "bearer-token",
		fold:  []string{"bearer"},
		re:    lazy(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)`),
		valid: lengthAndMix,
	},
	{
		name: "authorization-header", what: "the credentials of any other Authorization header (Basic, Token, Digest, Bot, …; without a scheme only a long token with letters and digits)",
		fold:  []string{"authorization"},
		re:    lazy(`(?i)\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?\s*(?:(?:basic|token|digest|bot|bearer|apikey|api-key|sso-key|negotiate|ntlm|hmac|aws4-hmac-sha256)\s+([^\s"',;\\]{4,})|([^\s"',;\\]{16,}))`),
		valid: bareCredential,
	},
	{
		name: "url-password", what: "the password in a URL's user information (scheme://user:PASSWORD@host); the user and host stay",
		needles: []string{"://"},
		re:      lazy(`(?i)\b[a-z][a-z0-9+.-]{1,30}://[^\s:/?#@\[\]"'<>]*:([^\s/?#"'<>]+)@[^\s/?#@"'<>]`),
		valid:   notPlaceholder,
	},
	{
		name: "cli-password", what: "a password or token given on a command line: --password VALUE, --token VALUE, --secret VALUE, --api-key VALUE (and = forms), curl -u user:PASSWORD",
		needles: []string{"-"},
		extra:   hasFlag,
		re:      lazy(`(?i)(?:^|\s)--?(?:password|passwd|pass|pwd|token|secret|api-?key|access-token|auth-token)(?:\s+|=)("[^"]*"|'[^']*'|[^\s"'-]\S*)|(?:^|\s)(?:-u|--user)(?:\s+|=)["']?[^\s"':]*:([^\s"']+)`),
		valid:   notPlaceholder,
	},
	{
		name: "api-key-header", what: "API key and token headers: X-Api-Key, X-Auth-Token, X-…-Token, Api-Key, Private-Token (8 or more characters)",
		fold:  []string{"key", "token", "secret", "auth"},
		extra: func(s string) bool { return strings.ContainsAny(s, ":=") },
		re:    lazy(`(?i)(?:^|[^A-Za-z0-9-])(?:x-[a-z0-9-]*?(?:api-?key|token|secret|auth)|api-?key|private-token)\\?["']?\s*[:=]\s*\\?["']?([^\s"',;\\]{8,})`),
		valid: notPlaceholder,
	},
	{
		name: "secret-assignment", what: "the value of a key=value pair whose key names a secret: password=, passwd=, pwd=, pass=, secret=, token=, api_key=, access_key=, private_key=, client_secret=, credentials= (any prefix: DB_PASSWORD=, GITHUB_TOKEN=, ?access_token=; suffixes _KEY, _BASE, _VALUE); also := and => forms, and \"key\": \"value\" in JSON",
		needles: []string{"=", ":"},
		find:    assignments,
		valid:   notPlaceholder,
	},
}
