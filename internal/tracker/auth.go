package tracker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/editkit/editkit/internal/fsx"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	sheets "google.golang.org/api/sheets/v4"
)

// scopes editkit asks for: the spreadsheets it is given, nothing else.
func scopes() []string { return []string{sheets.SpreadsheetsScope} }

// OAuthClient is an installed-app OAuth client (a "Desktop app" client ID
// from the Google Cloud console) for people without a service account.
// Endpoints default to Google's; tests and private deployments set them.
type OAuthClient struct {
	ClientID     string
	ClientSecret string // not secret for installed apps, but never printed
	AuthURL      string
	TokenURL     string
	// DeviceAuthURL is for the device flow (machines without a browser).
	DeviceAuthURL string
}

func (c OAuthClient) config() *oauth2.Config {
	ep := google.Endpoint
	if c.AuthURL != "" {
		ep.AuthURL = c.AuthURL
	}
	if c.TokenURL != "" {
		ep.TokenURL = c.TokenURL
	}
	if c.DeviceAuthURL != "" {
		ep.DeviceAuthURL = c.DeviceAuthURL
	}
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: ep, Scopes: scopes()}
}

// credentialsError is a problem with the configured credentials found
// before asking Google (a missing file, a wrong kind of key).
type credentialsError struct {
	msg, hint string
	err       error
}

func (e *credentialsError) Error() string { return e.msg }
func (e *credentialsError) Unwrap() error { return e.err }

type credKind int

const (
	credKey   credKind = iota // --google-credentials FILE
	credLogin                 // editkit tracker login
	credADC                   // application default credentials
)

// credentials is how the Sheets client authenticates. The token source is
// made on first use, so that constructing a tracker never touches the
// network or fails for lack of it: events still go to the outbox.
type credentials struct {
	kind   credKind
	source string // file path, for messages
	client *http.Client

	mu    sync.Mutex
	email string // the service account, once known
}

func (c *credentials) setEmail(e string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.email = e
}

func (c *credentials) getEmail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.email
}

// who names the identity in messages.
func (c *credentials) who() string {
	if e := c.getEmail(); e != "" {
		return "the service account " + e
	}
	switch c.kind {
	case credLogin:
		return "the Google account you logged in with (`editkit tracker login`)"
	case credADC:
		return "the Google account of the application default credentials"
	}
	return "the Google account in " + c.source
}

func (c *credentials) shareWith() string {
	if e := c.getEmail(); e != "" {
		return e
	}
	return "that Google account"
}

// authTrouble explains an authentication failure and what to do.
func (c *credentials) authTrouble(err error) (reason, hint string) {
	var ce *credentialsError
	if errors.As(err, &ce) {
		return ce.msg, ce.hint
	}
	detail := authDetail(err)
	if detail == "" {
		detail = describe(err)
	}
	switch c.kind {
	case credKey:
		return fmt.Sprintf("Google refused the key of %s (%s)", c.who(), detail),
			"the key may have been deleted or disabled, or this computer's clock is wrong: create a new JSON key for the service account in the Google Cloud console and give it with --google-credentials"
	case credLogin:
		return "your Google login for the tracker has expired or was revoked (" + detail + ")",
			"run `editkit tracker login` again"
	default:
		return "Google refused the application default credentials (" + detail + ")",
			"give a service-account key with --google-credentials, or run `gcloud auth application-default login`, or `editkit tracker login`"
	}
}

// lazySource makes the real token source on first use and again after a
// failure (a key file fixed meanwhile).
type lazySource struct {
	make func() (oauth2.TokenSource, error)
	mu   sync.Mutex
	ts   oauth2.TokenSource
}

func (l *lazySource) Token() (*oauth2.Token, error) {
	l.mu.Lock()
	if l.ts == nil {
		ts, err := l.make()
		if err != nil {
			l.mu.Unlock()
			return nil, err
		}
		l.ts = ts
	}
	ts := l.ts
	l.mu.Unlock()
	return ts.Token()
}

type keyFileHeader struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
}

func newCredentials(ctx context.Context, cfg Config) (*credentials, error) {
	base := cfg.Transport
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	// Token requests go through the same transport, with the same bound.
	tokenClient := &http.Client{Transport: base, Timeout: cfg.RequestTimeout}
	tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, tokenClient)
	params := google.CredentialsParams{Scopes: scopes()}

	c := &credentials{}
	var mk func() (oauth2.TokenSource, error)
	switch {
	case cfg.CredentialsFile != "":
		c.kind, c.source = credKey, cfg.CredentialsFile
		if data, err := os.ReadFile(cfg.CredentialsFile); err == nil {
			var h keyFileHeader
			if json.Unmarshal(data, &h) == nil {
				c.setEmail(h.ClientEmail)
			}
		}
		mk = func() (oauth2.TokenSource, error) {
			data, err := os.ReadFile(cfg.CredentialsFile)
			if err != nil {
				return nil, &credentialsError{err: err,
					msg:  fmt.Sprintf("cannot read the Google credentials file %s: %v", cfg.CredentialsFile, errors.Unwrap(err)),
					hint: "check the path given with --google-credentials or GOOGLE_APPLICATION_CREDENTIALS"}
			}
			var h keyFileHeader
			if err := json.Unmarshal(data, &h); err != nil {
				return nil, &credentialsError{err: err,
					msg:  fmt.Sprintf("%s is not a Google credentials JSON file", cfg.CredentialsFile),
					hint: "download a JSON key for the service account (Google Cloud console › IAM › Service accounts › Keys)"}
			}
			// Only the kinds editkit expects: a credentials file of
			// another type can make the client run programs or call
			// other endpoints, so it is refused rather than trusted.
			var typ google.CredentialsType
			switch h.Type {
			case string(google.ServiceAccount):
				typ = google.ServiceAccount
				c.setEmail(h.ClientEmail)
			case string(google.AuthorizedUser):
				typ = google.AuthorizedUser
			default:
				return nil, &credentialsError{
					msg:  fmt.Sprintf("%s holds %q credentials; editkit takes a service-account key", cfg.CredentialsFile, h.Type),
					hint: "create a JSON key for a service account, or use `editkit tracker login`"}
			}
			creds, err := google.CredentialsFromJSONWithTypeAndParams(tctx, data, typ, params)
			if err != nil {
				return nil, &credentialsError{err: err,
					msg:  fmt.Sprintf("the key in %s cannot be used: %v", cfg.CredentialsFile, err),
					hint: "download a fresh JSON key for the service account"}
			}
			return creds.TokenSource, nil
		}
	case cfg.TokenFile != "" && fileExists(cfg.TokenFile):
		c.kind, c.source = credLogin, cfg.TokenFile
		mk = func() (oauth2.TokenSource, error) {
			tok, err := loadToken(cfg.TokenFile)
			if err != nil {
				return nil, &credentialsError{err: err, msg: err.Error(), hint: "run `editkit tracker login` again"}
			}
			if cfg.OAuthClient.ClientID == "" {
				return nil, &credentialsError{msg: "the tracker login needs an OAuth client ID to refresh its token",
					hint: "set the OAuth client in editkit's config (the same one used for `editkit tracker login`)"}
			}
			conf := cfg.OAuthClient.config()
			return &savingSource{path: cfg.TokenFile, base: conf.TokenSource(tctx, tok), last: tok.AccessToken}, nil
		}
	default:
		c.kind, c.source = credADC, "application default credentials"
		mk = func() (oauth2.TokenSource, error) {
			creds, err := google.FindDefaultCredentialsWithParams(tctx, params)
			if err != nil {
				return nil, &credentialsError{err: err,
					msg:  "no Google credentials for the tracker",
					hint: "give a service-account key with --google-credentials FILE (or GOOGLE_APPLICATION_CREDENTIALS), or run `editkit tracker login`"}
			}
			var h keyFileHeader
			if json.Unmarshal(creds.JSON, &h) == nil && h.ClientEmail != "" {
				c.setEmail(h.ClientEmail)
			}
			return creds.TokenSource, nil
		}
	}
	ts := oauth2.ReuseTokenSource(nil, &lazySource{make: mk})
	c.client = &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}}
	return c, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// savingSource writes a refreshed token back to the token file, so a
// long-lived login keeps working across runs.
type savingSource struct {
	path string
	base oauth2.TokenSource
	mu   sync.Mutex
	last string
}

func (s *savingSource) Token() (*oauth2.Token, error) {
	tok, err := s.base.Token()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.AccessToken != s.last {
		s.last = tok.AccessToken
		// Best effort: failing to save costs a refresh next run, no more.
		_ = saveToken(s.path, tok)
	}
	return tok, nil
}

func loadToken(path string) (*oauth2.Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the tracker login %s: %w", path, err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal(data, &tok); err != nil || tok.RefreshToken == "" && tok.AccessToken == "" {
		return nil, fmt.Errorf("the tracker login in %s is damaged", path)
	}
	return &tok, nil
}

// saveToken stores a token readable by its owner only (0600, in a folder
// that is 0700 when editkit creates it), replacing the file atomically so
// a crash never leaves half a token.
func saveToken(path string, tok *oauth2.Token) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	return fsx.WriteFileAtomic(path, data, 0o600)
}

// LoginOptions configure Login.
type LoginOptions struct {
	Client OAuthClient
	// TokenFile is where the token is saved (0600).
	TokenFile string
	// Device uses the device flow (a code typed on another device) instead
	// of a browser redirect to this computer: for machines without a
	// browser, e.g. over ssh.
	Device bool
	// Prompt tells the person what to do. Browser flow: url is the page to
	// open (the CLI prints it and tries to open a browser), code is empty.
	// Device flow: url is where to go, code what to type there.
	Prompt func(url, code string)
	// ListenAddr is the loopback address for the browser's redirect;
	// default 127.0.0.1 on a free port.
	ListenAddr string
	// Transport for the token endpoint; default http.DefaultTransport.
	Transport http.RoundTripper
}

// Login signs a person in with their Google account (OAuth for installed
// apps: a browser redirect to a loopback port with PKCE, or the device
// flow) and saves the token in opt.TokenFile for the Sheets tracker.
func Login(ctx context.Context, opt LoginOptions) error {
	if opt.TokenFile == "" {
		return errors.New("tracker login: no token file given")
	}
	if opt.Client.ClientID == "" {
		return errors.New("tracker login: no OAuth client ID: create a \"Desktop app\" OAuth client in the Google Cloud console and set it in editkit's config")
	}
	if opt.Prompt == nil {
		return errors.New("tracker login: no way to show the sign-in page")
	}
	if opt.Transport != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: opt.Transport})
	}
	conf := opt.Client.config()
	var tok *oauth2.Token
	var err error
	if opt.Device {
		tok, err = deviceLogin(ctx, conf, opt)
	} else {
		tok, err = loopbackLogin(ctx, conf, opt)
	}
	if err != nil {
		return fmt.Errorf("tracker login: %w", err)
	}
	if tok.RefreshToken == "" {
		return errors.New("tracker login: Google gave no refresh token, so the login would stop working within the hour; remove editkit's access at myaccount.google.com › Security › Third-party access and log in again")
	}
	if err := saveToken(opt.TokenFile, tok); err != nil {
		return fmt.Errorf("tracker login: cannot save the token in %s: %w", opt.TokenFile, err)
	}
	return nil
}

func deviceLogin(ctx context.Context, conf *oauth2.Config, opt LoginOptions) (*oauth2.Token, error) {
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("Google did not start the device sign-in: %s", describe(err))
	}
	opt.Prompt(da.VerificationURI, da.UserCode)
	// Google's device flow wants the client secret with the poll.
	tok, err := conf.DeviceAccessToken(ctx, da, oauth2.SetAuthURLParam("client_secret", conf.ClientSecret))
	if err != nil {
		return nil, fmt.Errorf("sign-in did not complete: %s", describe(err))
	}
	return tok, nil
}

func loopbackLogin(ctx context.Context, conf *oauth2.Config, opt LoginOptions) (*oauth2.Token, error) {
	addr := opt.ListenAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the browser's answer on %s: %w", addr, err)
	}
	conf.RedirectURL = "http://" + ln.Addr().String() + "/"
	var sb [16]byte
	rand.Read(sb[:])
	state := hex.EncodeToString(sb[:])
	verifier := oauth2.GenerateVerifier()

	type answer struct {
		code string
		err  error
	}
	answers := make(chan answer, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var a answer
		switch {
		case q.Get("state") != state:
			// Not the answer to our request (an old tab, or a forged
			// redirect): ignore it and keep waiting.
			http.Error(w, "This sign-in page is out of date; go back to editkit and try again.", http.StatusBadRequest)
			return
		case q.Get("error") != "":
			a.err = fmt.Errorf("Google said %q", q.Get("error"))
		case q.Get("code") == "":
			a.err = errors.New("Google's answer had no code")
		default:
			a.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if a.err != nil {
			fmt.Fprintf(w, "<p>editkit was not signed in: %s</p>", html.EscapeString(a.err.Error()))
		} else {
			fmt.Fprint(w, "<p>editkit is signed in to Google Sheets. You can close this tab.</p>")
		}
		select {
		case answers <- a:
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	opt.Prompt(conf.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent")), "")
	var a answer
	select {
	case a = <-answers:
	case <-ctx.Done():
		return nil, fmt.Errorf("gave up waiting for the browser: %w", ctx.Err())
	}
	if a.err != nil {
		return nil, a.err
	}
	tok, err := conf.Exchange(ctx, a.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("Google did not accept the sign-in: %s", describe(err))
	}
	return tok, nil
}
