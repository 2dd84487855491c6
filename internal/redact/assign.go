package redact

import "strings"

// assignments finds the values of key=value pairs whose key names a secret
// (secret-assignment), by scanning rather than with one large regular
// expression, which measured 13 µs a value: for each separator it looks
// back at the key and forward at the value. Forms: KEY=VALUE, KEY := VALUE,
// KEY => VALUE (any key, such as DB_PASSWORD, ?access_token), and a quoted
// key with : as well ("password": "…", in JSON). The value is the text
// between quotes, or up to a space, quote or one of & , ; ) } ] < > \.
func assignments(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' && c != ':' {
			continue
		}
		sepEnd := i + 1
		if c == ':' && sepEnd < len(s) && s[sepEnd] == '=' { // :=
			sepEnd++
		} else if c == '=' && sepEnd < len(s) && s[sepEnd] == '>' { // =>
			sepEnd++
		}
		keyEnd := i
		for keyEnd > 0 && (s[keyEnd-1] == ' ' || s[keyEnd-1] == '\t') {
			keyEnd--
		}
		quoted := false
		if keyEnd > 0 && (s[keyEnd-1] == '"' || s[keyEnd-1] == '\'') {
			quoted = true
			keyEnd--
			for keyEnd > 0 && s[keyEnd-1] == '\\' { // JSON in a string, maybe in another
				keyEnd--
			}
		}
		if c == ':' && sepEnd == i+1 && !quoted {
			continue // prose ("invalid token: expired") and times
		}
		keyStart := keyEnd
		for keyStart > 0 && isKeyByte(s[keyStart-1]) {
			keyStart--
		}
		if keyStart == keyEnd || quoted && (keyStart == 0 || s[keyStart-1] != '"' && s[keyStart-1] != '\'' && s[keyStart-1] != '\\') {
			continue
		}
		if !secretKey(s[keyStart:keyEnd]) {
			continue
		}
		if start, end, ok := valueAt(s, sepEnd); ok {
			out = append(out, [2]int{start, end})
			i = end - 1
		}
	}
	return out
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// Keywords of secret-assignment. A key ending in a long one names a secret
// whatever comes before it (DB_PASSWORD, PGPASSWORD, csrftoken); a short
// one only as the whole key or after a separator (pass, db_pass, but not
// bypass or compass). A suffix such as _KEY or _BASE may follow
// (SECRET_KEY_BASE).
var (
	longSecretWords  = []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "api-key", "api.key", "accesskey", "access_key", "access-key", "privatekey", "private_key", "private-key", "credential", "credentials", "authkey", "auth_key", "auth-key"}
	shortSecretWords = []string{"pass", "pwd", "pw"}
	secretSuffixes   = []string{"key", "base", "value", "b64", "base64"}
)

func secretKey(key string) bool {
	k := strings.ToLower(key)
	for range 3 { // the key, then without up to two suffixes (SECRET_KEY_BASE)
		if endsWithSecretWord(k) {
			return true
		}
		cut := false
		for _, suf := range secretSuffixes {
			if len(k) > len(suf)+1 && strings.HasSuffix(k, suf) && strings.ContainsRune("_.-", rune(k[len(k)-len(suf)-1])) {
				k, cut = k[:len(k)-len(suf)-1], true
				break
			}
		}
		if !cut {
			return false
		}
	}
	return false
}

func endsWithSecretWord(k string) bool {
	for _, w := range longSecretWords {
		if strings.HasSuffix(k, w) {
			return true
		}
	}
	for _, w := range shortSecretWords {
		if k == w || strings.HasSuffix(k, w) && strings.ContainsRune("_.-", rune(k[len(k)-len(w)-1])) {
			return true
		}
	}
	return false
}

// valueAt is the span of the value that starts after optional blanks at i.
func valueAt(s string, i int) (int, int, bool) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	j := i
	for j < len(s) && s[j] == '\\' {
		j++
	}
	if j > i && j < len(s) && s[j] == '"' { // \" or \\\" (JSON in a string, maybe in another)
		i = j
	}
	if i >= len(s) {
		return 0, 0, false
	}
	switch q := s[i]; q {
	case '"', '\'':
		end := strings.IndexByte(s[i+1:], q)
		if end < 0 {
			return 0, 0, false
		}
		end += i + 1
		for q == '"' && end > i+1 && s[end-1] == '\\' { // \"…\" in JSON inside a string
			end--
		}
		return i + 1, end, end > i+1
	}
	end := i
	for end < len(s) && !strings.ContainsRune(" \t\r\n\"'&,;)}]<>\\", rune(s[end])) {
		end++
	}
	return i, end, end > i
}
