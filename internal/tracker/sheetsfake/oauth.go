package sheetsfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Scope editkit needs; tokens without it are refused by the API, as
// Google refuses them.
const (
	ScopeSpreadsheets = "https://www.googleapis.com/auth/spreadsheets"
	scopeDrive        = "https://www.googleapis.com/auth/drive"
	jwtBearerGrant    = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	deviceCodeGrant   = "urn:ietf:params:oauth:grant-type:device_code"
)

type serviceAccount struct {
	email string
	keyID string
	pub   *rsa.PublicKey
}

type accessToken struct {
	principal string
	scopes    []string
	expiry    time.Time // real time
}

type authCode struct {
	clientID, redirectURI, challenge, scope string
}

type deviceGrant struct {
	clientID, userCode, scope string
	approved                  bool
}

// NewServiceAccount makes a service account with a fresh RSA key, registers
// its public key with the token endpoint and returns the JSON key file a
// person would download from the Cloud console, its token_uri pointing at
// this fake.
func (s *Server) NewServiceAccount(email string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyID := randHex(40)
	s.RegisterServiceAccount(email, keyID, &key.PublicKey)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "editkit-test",
		"private_key_id":              keyID,
		"private_key":                 string(pemKey),
		"client_email":                email,
		"client_id":                   "1000000000000000000" + randHex(2),
		"auth_uri":                    s.AuthURL,
		"token_uri":                   s.TokenURL,
		"auth_provider_x509_cert_url": s.URL + "oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}

// RegisterServiceAccount trusts a public key for JWT assertions from email.
func (s *Server) RegisterServiceAccount(email, keyID string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[email] = serviceAccount{email: email, keyID: keyID, pub: pub}
}

// RegisterOAuthClient registers an installed-app OAuth client.
func (s *Server) RegisterOAuthClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// ApproveDevice approves a device-flow user code, as the person would on
// the verification page. It reports whether the code was known.
func (s *Server) ApproveDevice(userCode string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode {
			d.approved = true
			return true
		}
	}
	return false
}

// authenticate checks the bearer token of an API request. It returns the
// principal, or a status (401, 403) and Google's message.
func (s *Server) authenticate(r *http.Request) (string, int, string) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return "", 401, "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	}
	s.mu.Lock()
	at, ok := s.tokens[tok]
	s.mu.Unlock()
	if !ok || time.Now().After(at.expiry) {
		return "", 401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	}
	if !slices.Contains(at.scopes, ScopeSpreadsheets) && !slices.Contains(at.scopes, scopeDrive) {
		return at.principal, 403, "Request had insufficient authentication scopes."
	}
	return at.principal, 0, ""
}

func tokenError(w http.ResponseWriter, code int, errCode, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
}

func (s *Server) issue(w http.ResponseWriter, principal string, scopes []string, withRefresh bool) {
	tok := "ya29.fake-" + randHex(48)
	s.mu.Lock()
	s.tokens[tok] = accessToken{principal: principal, scopes: scopes, expiry: time.Now().Add(s.opt.TokenLifetime)}
	resp := map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.opt.TokenLifetime / time.Second),
		"scope":        strings.Join(scopes, " "),
	}
	if withRefresh {
		rt := "1//fake-refresh-" + randHex(40)
		s.refresh[rt] = principal + "\x00" + strings.Join(scopes, " ")
		resp["refresh_token"] = rt
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" {
		tokenError(w, 405, "invalid_request", "token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, 400, "invalid_request", err.Error())
		return
	}
	s.record(Request{Time: s.opt.Now(), Op: "token", Status: 200})
	switch r.PostForm.Get("grant_type") {
	case jwtBearerGrant:
		email, scopes, err := s.verifyAssertion(r.PostForm.Get("assertion"))
		if err != "" {
			tokenError(w, 400, "invalid_grant", err)
			return
		}
		s.issue(w, email, scopes, false)
	case "authorization_code":
		s.mu.Lock()
		code, ok := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code")) // codes are single-use
		s.mu.Unlock()
		if !ok {
			tokenError(w, 400, "invalid_grant", "Malformed auth code.")
			return
		}
		if !s.clientOK(r, code.clientID) {
			tokenError(w, 401, "invalid_client", "Unauthorized")
			return
		}
		if r.PostForm.Get("redirect_uri") != code.redirectURI {
			tokenError(w, 400, "redirect_uri_mismatch", "Bad Request")
			return
		}
		if code.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge {
				tokenError(w, 400, "invalid_grant", "Invalid code verifier.")
				return
			}
		}
		s.issue(w, s.opt.LoginUser, strings.Fields(code.scope), true)
	case "refresh_token":
		s.mu.Lock()
		v, ok := s.refresh[r.PostForm.Get("refresh_token")]
		s.mu.Unlock()
		if !ok {
			tokenError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		principal, scope, _ := strings.Cut(v, "\x00")
		s.issue(w, principal, strings.Fields(scope), false)
	case deviceCodeGrant:
		s.mu.Lock()
		d, ok := s.devices[r.PostForm.Get("device_code")]
		approved := ok && d.approved
		if approved {
			delete(s.devices, r.PostForm.Get("device_code"))
		}
		s.mu.Unlock()
		switch {
		case !ok:
			tokenError(w, 400, "invalid_grant", "Malformed device code.")
		case !s.clientOK(r, d.clientID):
			tokenError(w, 401, "invalid_client", "Unauthorized")
		case !approved:
			tokenError(w, 428, "authorization_pending", "Precondition Required")
		default:
			s.issue(w, s.opt.LoginUser, strings.Fields(d.scope), true)
		}
	default:
		tokenError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
	}
}

func (s *Server) clientOK(r *http.Request, want string) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known, exists := s.clients[id]
	return exists && id == want && known == secret
}

// verifyAssertion checks a service account's JWT as Google's token endpoint
// does: RS256 signature by a registered key, audience this token URL, a
// lifetime of at most an hour around now, and a scope.
func (s *Server) verifyAssertion(jwt string) (string, []string, string) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", nil, "Invalid JWT: malformed."
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	for i, dst := range []any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", nil, "Invalid JWT: bad encoding."
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "", nil, "Invalid JWT: bad JSON."
		}
	}
	if hdr.Alg != "RS256" {
		return "", nil, "Invalid JWT: algorithm must be RS256."
	}
	s.mu.Lock()
	acct, ok := s.accounts[claims.Iss]
	s.mu.Unlock()
	if !ok {
		return "", nil, "Invalid JWT Signature." // Google does not say whether the account exists
	}
	if hdr.Kid != "" && hdr.Kid != acct.keyID {
		return "", nil, "Invalid JWT Signature."
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", nil, "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(acct.pub, crypto.SHA256, sum[:], sig) != nil {
		return "", nil, "Invalid JWT Signature."
	}
	if claims.Aud != s.TokenURL {
		return "", nil, fmt.Sprintf("Invalid JWT: audience %q is not the token endpoint.", claims.Aud)
	}
	now := time.Now().Unix()
	if claims.Exp < now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600+60 {
		return "", nil, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		return "", nil, "Invalid JWT: no scope."
	}
	return acct.email, scopes, ""
}

// serveAuthorize is the consent page of the loopback login. The person is
// taken to have signed in as LoginUser and allowed access, so it redirects
// straight back with a code, as Google does after consent.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	_, known := s.clients[clientID]
	s.mu.Unlock()
	if !known {
		http.Error(w, "Error 401: invalid_client", http.StatusUnauthorized)
		return
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		// Installed apps may only redirect to the loopback interface.
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" {
		http.Error(w, "Error 400: unsupported_response_type", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "Error 400: invalid_request (code_challenge_method)", http.StatusBadRequest)
		return
	}
	code := "4/fake-" + randHex(32)
	s.mu.Lock()
	s.codes[code] = authCode{clientID: clientID, redirectURI: redirect, challenge: q.Get("code_challenge"), scope: q.Get("scope")}
	s.mu.Unlock()
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	v.Set("scope", q.Get("scope"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) serveDeviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, 400, "invalid_request", err.Error())
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.mu.Lock()
	_, known := s.clients[clientID]
	s.mu.Unlock()
	if !known {
		tokenError(w, 401, "invalid_client", "The OAuth client was not found.")
		return
	}
	dc := "AH-fake-" + randHex(40)
	uc := strings.ToUpper(randHex(3) + "-" + randHex(3) + "-" + randHex(3))
	s.mu.Lock()
	s.devices[dc] = &deviceGrant{clientID: clientID, userCode: uc, scope: r.PostForm.Get("scope")}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"device_code":      dc,
		"user_code":        uc,
		"verification_url": strings.TrimSuffix(s.URL, "/") + "/device",
		"expires_in":       1800,
		"interval":         1,
	})
}
