// Package redacttest holds what the redaction tests share: a made-up secret
// for each built-in detector, and values the gateway writes every day that
// must never be redacted. Secrets are made up at run time from pieces, so
// that no scanner mistakes the repository for one that leaks them.
package redacttest

import "math/rand/v2"

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	hexLow = "0123456789abcdef"
	b64    = alnum + "+/"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

// rnd is n characters of alphabet, the same for the same seed.
func rnd(seed uint64, n int, alphabet string) string {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// awsSecret is a 40-character secret key with a / in it, as most are.
func awsSecret(seed uint64) string {
	s := rnd(seed, 40, b64)
	return s[:7] + "/" + s[8:20] + "+" + s[21:]
}

// Case is a value holding a secret, the detector that must find it, and
// the secret text that must not survive.
type Case struct {
	Detector string
	Value    string
	Secret   string
}

// Cases is one or more values for each of the detectors the contract names
// and for most others, the same on every call.
func Cases() []Case {
	slackBot := "xox" + "b-" + "1234567890123-1234567890123-" + rnd(1, 24, alnum)
	slackUser := "xox" + "p-" + "1234567890-1234567890-1234567890-" + rnd(2, 32, hexLow)
	slackApp := "xa" + "pp-1-A0123ABCDEF-1234567890123-" + rnd(3, 64, hexLow)
	hook := "https://hooks.slack.com/services/T" + rnd(4, 8, upper) + "/B" + rnd(5, 10, upper) + "/" + rnd(6, 24, alnum)
	awsID := "AKIA" + rnd(7, 16, upper)
	awsSTS := "ASIA" + rnd(8, 16, upper)
	sec1, sec2, sec3 := awsSecret(9), awsSecret(10), awsSecret(11)
	ghp := "gh" + "p_" + rnd(12, 36, alnum)
	ghFine := "github" + "_pat_" + rnd(13, 22, alnum) + "_" + rnd(14, 59, alnum)
	ghs := "gh" + "s_" + rnd(15, 36, alnum)
	glpat := "gl" + "pat-" + rnd(16, 20, alnum)
	glrt := "gl" + "rt-" + rnd(17, 20, alnum)
	jwt := "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ." + rnd(18, 43, alnum+"-_")
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + rnd(19, 64, b64) + "\n" + rnd(20, 64, b64) + "\n-----END RSA PRIVATE KEY-----"
	pemCut := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + rnd(21, 70, b64)
	bearer := rnd(22, 32, alnum+"-._")
	bearerBare := "a1" + rnd(23, 30, alnum)
	basic := rnd(24, 20, b64) + "=="
	urlPass := "S3cr3t-" + rnd(25, 10, alnum)
	assign := rnd(26, 14, alnum)
	return []Case{
		{"slack-token", "token " + slackBot + " posted", slackBot},
		{"slack-token", slackUser, slackUser},
		{"slack-token", "SLACK_APP_TOKEN " + slackApp, slackApp},
		{"slack-webhook-url", "curl -X POST " + hook + " -d @msg.json", rnd(6, 24, alnum)},
		{"aws-access-key-id", "aws configure set aws_access_key_id " + awsID, awsID},
		{"aws-access-key-id", `{"AccessKeyId":"` + awsSTS + `"}`, awsSTS},
		{"aws-secret-access-key", "aws configure set aws_secret_access_key " + sec1, sec1},
		{"aws-secret-access-key", `{"SecretAccessKey":"` + sec2 + `"}`, sec2},
		{"aws-secret-access-key", "credentials: " + sec3 + " (rotated)", sec3},
		{"github-token", "git clone https://" + ghp + "@github.com/acme/app", ghp},
		{"github-token", ghFine, ghFine},
		{"github-token", "GH " + ghs, ghs},
		{"gitlab-token", "glab auth login --stdin <<< " + glpat, glpat},
		{"gitlab-token", "runner " + glrt, glrt},
		{"jwt", "session " + jwt, jwt},
		{"private-key", "key=" + pem + " end", rnd(20, 64, b64)},
		{"private-key", pemCut, rnd(21, 70, b64)},
		{"private-key", `{"key":"-----BEGIN EC PRIVATE KEY-----\n` + rnd(27, 60, b64) + `\n-----END EC PRIVATE KEY-----\n"}`, rnd(27, 60, b64)},
		{"bearer-token", "Authorization: Bearer " + bearer, bearer},
		{"bearer-token", `curl -H "authorization: bearer ` + bearer + `" https://api`, bearer},
		{"bearer-token", "sent Bearer " + bearerBare, bearerBare},
		{"authorization-header", "Authorization: Basic " + basic, basic},
		{"url-password", "psql postgres://app:" + urlPass + "@db.internal:5432/app", urlPass},
		{"url-password", "redis://:" + urlPass + "@cache:6379/0", urlPass},
		{"url-password", "DATABASE_URL=mysql://root:" + urlPass + "@10.0.0.5/prod", urlPass},
		{"secret-assignment", "convox env set DB_PASSWORD=" + assign + " -a billing", assign},
		{"secret-assignment", "PGPASSWORD=" + assign + " psql", assign},
		{"secret-assignment", "https://api.example.com/v1?access_token=" + assign + "&page=2", assign},
		{"secret-assignment", `{"client_secret":"` + assign + `","id":1}`, assign},
		{"secret-assignment", `{"password": "` + assign + ` with spaces"}`, assign},
		{"secret-assignment", "api_key = '" + assign + "'", assign},
		{"secret-assignment", "SECRET_KEY_BASE=" + assign, assign},
		{"secret-assignment", "config.token := " + assign, assign},
		{"secret-assignment", `{"env":"{\"db_password\":\"` + assign + `\"}"}`, assign},
		{"secret-assignment", "opts => {secret => '" + assign + "'}", assign},
		{"cli-password", "docker login --password " + assign + " registry", assign},
		{"cli-password", "curl -u deploy:" + assign + " https://x", assign},
		{"api-key-header", "X-Api-Key: " + assign, assign},
		{"api-key-header", "Private-Token: " + assign, assign},
		{"stripe-key", "sk" + "_live_" + rnd(28, 24, alnum), rnd(28, 24, alnum)},
		{"google-api-key", "AI" + "za" + rnd(29, 35, alnum), rnd(29, 35, alnum)},
		{"npm-token", "npm" + "_" + rnd(30, 36, alnum), rnd(30, 36, alnum)},
		{"sendgrid-api-key", "S" + "G." + rnd(31, 22, alnum) + "." + rnd(32, 43, alnum), rnd(32, 43, alnum)},
		{"openai-api-key", "sk-proj-" + rnd(33, 30, alnum) + "T3Blbk" + "FJ" + rnd(34, 30, alnum), rnd(34, 30, alnum)},
		{"anthropic-api-key", "sk-ant-" + "api03-" + rnd(35, 95, alnum), rnd(35, 95, alnum)},
		{"digitalocean-token", "do" + "p_v1_" + rnd(36, 64, hexLow), rnd(36, 64, hexLow)},
		{"hashicorp-vault-token", "VAULT_TOKEN hv" + "s." + rnd(37, 90, alnum), rnd(37, 90, alnum)},
		{"age-secret-key", "AGE-SECRET-" + "KEY-1" + rnd(38, 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"), rnd(38, 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")},
		{"twilio-api-key", "S" + "K" + rnd(39, 32, hexLow), rnd(39, 32, hexLow)},
	}
}

// Ordinary are values the gateway writes every day (emails, addresses, app
// names, release and request ids, UUIDs, commit SHAs, user agents,
// commands, details) and near misses of the detectors: none of them may be
// redacted.
var Ordinary = []string{
	"alice@example.com", "Alice Example", "mallory@example.net", "<!channel> Admin", "CI Bot", "ci-deployer",
	"203.0.113.7", "198.51.100.23", "2001:db8::1", "10.0.0.5", "::1",
	"billing", "acme-prod", "billing/RABCDEF", "RABCDEFGHIJ", "BABCDEFGHIJ", "billing/DATABASE_URL", "app/SECRET_KEY_BASE",
	"dar_01HVX9", "req-9f2c1a", "01HVX9ZK3M4N5P6Q7R8S9T0V1W", "0b7c6a4e-3d2f-4e1a-9b8c-7d6e5f4a3b2c", "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
	"e83c5163316f89bfbde7d9ab23ca2e25604af290", "3f786850e387550fdab836ed7e6dc881de23001b",
	"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"curl/8.5.0", "convox/3.19.6", "Go-http-client/1.1", "python-requests/2.31.0", "rack-gateway-cli/1.4.2 (linux; amd64)",
	"convox releases promote RABCDEF", "convox apps info", "convox env set FOO=bar BAZ=qux -a billing",
	"convox env unset SECRET_TOKEN -a billing", "convox run web bin/rails db:migrate -a billing",
	"convox logs -a billing --since 1h", "convox exec 1234567890abcdef bash", "convox scale web --count 3",
	`{"method":"totp","label":"phone"}`, `{"roles":["admin"]}`, `{"method":"totp"}`,
	`{"api_token_name":"ci-deployer","api_token_id":42,"permissions":["convox:deploy"]}`,
	`{"git_branch":"main","git_commit_hash":"e83c5163316f89bfbde7d9ab23ca2e25604af290","message":"Fix token refresh (#123)"}`,
	`{"token_type":"bearer","expires_in":3600}`, `{"password_changed":true,"mfa":"totp"}`, `{"token_count":5}`,
	`{"error":"invalid token: signature mismatch"}`, "token expired", "bearer token missing", "Bearer authentication failed",
	`{"reason":"authorization: denied by policy"}`, "password reset requested", "secret.set", "token.validate",
	"login.oauth_failed", "deploy_approval_request.approve", "user.update_roles", "api_token.create",
	"2026-03-20T01:13:02Z", "2026-03-20T01:20:00.123456789Z", "success", "failed", "denied", "allow", "deny",
	"https://rack.example.com/apps/billing", "https://github.com/acme/app/commit/e83c5163316f89bfbde7d9ab23ca2e25604af290",
	"/var/lib/auditfwd/spool/security/0000000001.seg", "/usr/local/bin/convox",
	"Fix login redirect when SSO token is stale", "Merge pull request #4711 from acme/feature/payments",
	"auth", "convox", "gateway", "security", "users", "tokens", "admin", "812", "200", "42", "true",
	"AKIA", "xoxo hugs", "pass the salt", "bypass=true", "compass=north", "token=", "password=***", "password=$DB_PASSWORD",
	"secret=${SECRET}", "token=<redacted>", "api_key=none", "--token-file /etc/token", "docker login --password-stdin",
	"mysql -u root db", "sort -u names.txt",
}
