package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/editkit/editkit/internal/slowtest"
	"github.com/editkit/editkit/internal/tracker/sheetsfake"
)

// secretsIn lists credential material that must never appear in output.
func secretsIn(s string) bool {
	return containsAny(s, "PRIVATE KEY", "ya29.", "1//fake-refresh", "s3cr3t", "assertion")
}

func TestApplicationDefaultCredentials(t *testing.T) {
	e := newEnv(t, envOpt{})
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", e.keyFile)
	cfg := e.config()
	cfg.CredentialsFile = ""
	tr := e.tracker(cfg)
	evs := genEvents(5, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	if res := mustRecord(t, tr, evs); res.Sent != 5 {
		t.Fatalf("%+v", res)
	}
	e.assertExactlyOnce(evs)
}

func TestLoginLoopbackAndDevice(t *testing.T) {
	slowtest.Skip(t, "both login flows end to end")
	for _, device := range []bool{false, true} {
		name := "loopback"
		if device {
			name = "device"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpt{})
			e.fake.RegisterOAuthClient("editkit-desktop.apps", "s3cr3t")
			e.fake.Share(e.sheetID, "editor@example.com", true)
			client := OAuthClient{ClientID: "editkit-desktop.apps", ClientSecret: "s3cr3t",
				AuthURL: e.fake.AuthURL, TokenURL: e.fake.TokenURL, DeviceAuthURL: e.fake.DeviceAuthURL}
			tokenFile := filepath.Join(t.TempDir(), "state", "google-token.json")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := Login(ctx, LoginOptions{Client: client, TokenFile: tokenFile, Device: device,
				Prompt: func(url, code string) {
					if device {
						// The person types the code on their phone.
						if !e.fake.ApproveDevice(code) {
							t.Errorf("unknown device code %q", code)
						}
						return
					}
					// The browser follows Google's redirect back to us.
					go func() {
						resp, err := http.Get(url)
						if err != nil {
							t.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != 200 {
							t.Errorf("redirect answered %s", resp.Status)
						}
					}()
				}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(tokenFile)
			if err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "windows" {
				if p := info.Mode().Perm(); p != 0o600 {
					t.Errorf("token file mode %o, want 600", p)
				}
				if d, _ := os.Stat(filepath.Dir(tokenFile)); d.Mode().Perm() != 0o700 {
					t.Errorf("token folder mode %o, want 700", d.Mode().Perm())
				}
			}
			var tok map[string]any
			data, _ := os.ReadFile(tokenFile)
			if json.Unmarshal(data, &tok) != nil || tok["refresh_token"] == "" {
				t.Fatalf("token file: %s", data)
			}

			// The tracker works with the login.
			cfg := e.config()
			cfg.CredentialsFile, cfg.TokenFile, cfg.OAuthClient = "", tokenFile, client
			tr := e.tracker(cfg)
			evs := genEvents(3, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
			if res := mustRecord(t, tr, evs); res.Sent != 3 {
				t.Fatalf("%+v", res)
			}

			// Revoked: queued, with what to do, and no secrets shown.
			e.fake.RevokeTokens()
			tr = e.tracker(cfg)
			res := mustRecord(t, tr, genEvents(2, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)))
			if res.NotSent == nil || !strings.Contains(res.NotSent.Error(), "editkit tracker login") {
				t.Fatalf("revoked login: %+v", res)
			}
			if secretsIn(res.NotSent.Error()) {
				t.Errorf("message shows credentials: %v", res.NotSent)
			}
		})
	}
}

// What the user is told, for each way the Sheet can refuse.
func TestErrorsTellWhatToDo(t *testing.T) {
	evs := genEvents(2, time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	cases := []struct {
		name  string
		setup func(e *env, cfg *Config)
		want  []string
		temp  bool
	}{
		{"not shared", func(e *env, cfg *Config) { e.fake.Unshare(e.sheetID, testAccount) },
			[]string{"has no access", "share the sheet with " + testAccount + " as Editor"}, false},
		{"read-only", func(e *env, cfg *Config) {
			e.fake.Unshare(e.sheetID, testAccount)
			e.fake.Share(e.sheetID, testAccount, false)
		}, []string{"as Editor"}, false},
		{"no such sheet", func(e *env, cfg *Config) { cfg.Spreadsheet = "1NoSuchSheetAbCdEfGhIjKlMnOpQrStUvWxYz012345" },
			[]string{"no spreadsheet with ID 1NoSuchSheet", "after /d/"}, false},
		{"key not known to Google", func(e *env, cfg *Config) {
			other := sheetsfake.New(sheetsfake.Options{})
			defer other.Close()
			key, _ := other.NewServiceAccount(testAccount)
			var m map[string]any
			json.Unmarshal(key, &m)
			m["token_uri"] = e.fake.TokenURL
			key, _ = json.Marshal(m)
			os.WriteFile(cfg.CredentialsFile, key, 0o600)
		}, []string{"Google refused the key of the service account " + testAccount, "create a new JSON key"}, false},
		{"missing key file", func(e *env, cfg *Config) { cfg.CredentialsFile = filepath.Join(t.TempDir(), "nope.json") },
			[]string{"cannot read the Google credentials file", "--google-credentials"}, false},
		{"wrong kind of credentials", func(e *env, cfg *Config) {
			os.WriteFile(cfg.CredentialsFile, []byte(`{"type":"external_account","audience":"x"}`), 0o600)
		}, []string{`"external_account" credentials`, "service-account key"}, false},
		{"quota", func(e *env, cfg *Config) {
			cfg.RetryFor = time.Second
			e.fake.Inject(sheetsfake.Fault{Status: 429, Times: 1000})
		}, []string{"per-minute quota"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, envOpt{})
			cfg := e.config()
			c.setup(e, &cfg)
			tr := e.tracker(cfg)
			res, err := tr.Record(context.Background(), evs)
			if err != nil {
				t.Fatal(err)
			}
			if res.Pending != 2 || res.NotSent == nil {
				t.Fatalf("%+v", res)
			}
			msg := res.NotSent.Error()
			t.Log(msg)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q", w)
				}
			}
			var ns *NotSentError
			if !errors.As(res.NotSent, &ns) || ns.Temporary != c.temp {
				t.Errorf("temporary = %v, want %v", ns.Temporary, c.temp)
			}
			if secretsIn(msg) {
				t.Errorf("message shows credentials")
			}
			// Init fails outright with the same explanation.
			if err := tr.Init(context.Background()); err == nil || !strings.Contains(err.Error(), c.want[0]) {
				t.Errorf("Init: %v", err)
			}
		})
	}
}

func TestParseSpreadsheetID(t *testing.T) {
	const id = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
	for _, in := range []string{
		id,
		"https://docs.google.com/spreadsheets/d/" + id + "/edit#gid=0",
		"https://docs.google.com/spreadsheets/d/" + id,
		"https://docs.google.com/spreadsheets/u/1/d/" + id + "/edit?usp=sharing",
		"  https://docs.google.com/spreadsheets/d/" + id + "/edit#gid=123456 ",
	} {
		got, err := ParseSpreadsheetID(in)
		if err != nil || got != id {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "not a sheet", "https://docs.google.com/spreadsheets/d/e/2PACX-1vabc/pubhtml", "https://example.com/x"} {
		if _, err := ParseSpreadsheetID(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
