// Package config owns editkit's settings file and where editkit keeps its
// own state on a computer. Settings come, in order of precedence, from
// command-line flags, then environment variables, then the settings file;
// this package reads the file and says where things live, the commands
// apply the precedence.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/editkit/editkit/internal/place"
)

// Config is the settings file.
type Config struct {
	// Hub is where backups and shared media live: s3://BUCKET/PREFIX, a
	// folder path, or file:///path.
	Hub        string `toml:"hub"`
	S3Endpoint string `toml:"s3_endpoint"`
	// BWLimit caps hub transfers: "12Mbit", "2MB/s".
	BWLimit string `toml:"bwlimit"`
	// User is the name recorded in events and the tracker (default: the
	// operating-system user).
	User string `toml:"user"`
	// RetryFor is how long a command keeps retrying a hub it cannot reach
	// before it gives up ("2m", the default; the backup has its own).
	RetryFor string `toml:"retry_for"`
	// MediaRoot is the assistant's folder that corresponds to the root of
	// editors' drives; pushed media keeps its place under it.
	MediaRoot string `toml:"media_root"`
	// Identity is the file holding your key to an encrypted hub (default:
	// identity.txt beside the settings file; see `editkit key new`).
	Identity string `toml:"identity"`

	Backup  Backup  `toml:"backup"`
	Tracker Tracker `toml:"tracker"`
	Notify  Notify  `toml:"notify"`
	Push    Push    `toml:"push"`
}

// Push settings.
type Push struct {
	// Folders is, by category, the folder on editors' drives that media
	// pushed from outside the media root goes to (default: CategoryFolder).
	Folders map[string]string `toml:"folders"`
}

// Folder is where media of category goes on editors' drives when pushed
// from outside the media root without --dest-path: the settings file's
// choice, else the category's own folder ("vfx" → "VFX").
func (p Push) Folder(category string) string {
	if f := p.Folders[category]; f != "" {
		return f
	}
	if f, ok := categoryFolders[category]; ok {
		return f
	}
	return "Other"
}

var categoryFolders = map[string]string{
	"vfx": "VFX", "music": "Music", "sfx": "SFX", "archive": "Archive", "stock": "Stock",
	"stills": "Stills", "footage": "Footage", "guide-vo": "Guide VO", "other": "Other",
}

// Backup settings.
type Backup struct {
	Set      string   `toml:"set"`     // default backup set name
	Paths    []string `toml:"paths"`   // default folders to back up
	Excludes []string `toml:"exclude"` // patterns left out
	Log      string   `toml:"log"`     // log file for unattended runs
	// RetryFor is how long the backup keeps retrying a hub it cannot
	// reach before it gives up ("15m", the default: a nightly run may
	// ride out a longer outage than someone at a terminal would wait).
	RetryFor string `toml:"retry_for"`
}

// Tracker settings.
type Tracker struct {
	// Sheet is the Google Sheet (ID or URL); empty means the CSV tracker.
	Sheet             string `toml:"sheet"`
	GoogleCredentials string `toml:"google_credentials"`
	SheetsEndpoint    string `toml:"sheets_endpoint"`
	// CSV is the folder of the local CSV tracker (default: in StateDir).
	CSV string `toml:"csv"`
	// The OAuth client (a "Desktop app" client of your Google Cloud
	// project) used by `editkit tracker login`, and its endpoints for
	// private deployments.
	OAuthClientID     string `toml:"oauth_client_id"`
	OAuthClientSecret string `toml:"oauth_client_secret" secret:"true"`
	OAuthAuthURL      string `toml:"oauth_auth_url"`
	OAuthTokenURL     string `toml:"oauth_token_url"`
	OAuthDeviceURL    string `toml:"oauth_device_url"`
}

// Notify settings: where the team hears of drives ready, failed verifies
// and backups, and the morning digest. A webhook URL holds its own token,
// so each is a secret.
type Notify struct {
	Slack    string `toml:"slack" secret:"true"`   // Slack (or compatible) incoming-webhook URL
	Teams    string `toml:"teams" secret:"true"`   // Teams Workflows "webhook request" URL
	Webhook  string `toml:"webhook" secret:"true"` // generic JSON webhook URL
	SMTP     string `toml:"smtp"`                  // mail server, host:port (STARTTLS)
	SMTPUser string `toml:"smtp_user"`
	// SMTPPassword: better in EDITKIT_SMTP_PASSWORD than in this file.
	SMTPPassword string   `toml:"smtp_password" secret:"true"`
	From         string   `toml:"from"`
	To           []string `toml:"to"`
}

// Hidden stands for a secret's value wherever settings are shown.
const Hidden = "set (hidden)"

// Redacted returns c as it may be shown (`config show`): every setting
// tagged secret reads Hidden when set, and URLs lose any password or query
// (where a token could hide).
func (c Config) Redacted() Config {
	redact(reflect.ValueOf(&c).Elem())
	return c
}

func redact(v reflect.Value) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			redact(f)
		case f.Kind() != reflect.String || f.String() == "":
		case sf.Tag.Get("secret") == "true":
			f.SetString(Hidden)
		case strings.Contains(f.String(), "://"):
			f.SetString(redactURL(f.String()))
		}
	}
}

// redactURL hides a URL's password and query values.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"hidden"}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// ExistsError refuses to replace a settings file without force.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return e.Path + " exists; edit it, or pass --force to replace it"
}

// WriteTemplate writes Template to path as a new settings file, 0600 (it
// may come to hold a secret), creating its missing folders 0700. An
// existing file is kept unless force; the file appears complete or not at
// all (written aside, then renamed), and a link at path or where its folder
// should be is refused, never written through.
func WriteTemplate(path string, force bool) error {
	if path == "" {
		return errors.New("no settings file path: give --config FILE")
	}
	if _, err := os.Lstat(path); err == nil && !force {
		return &ExistsError{Path: path}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("settings file %s: %w", path, err)
	}
	return writeSettings(path, 0o600, Template)
}

// writeSettings writes text to the settings file at path, perm exactly,
// through the one placement path (place.WriteFile): written aside, synced,
// then renamed over path, so the file is complete or not there at all.
// The settings folder is the user's own, so a link there (dotfiles kept
// elsewhere) is followed: it is resolved once and becomes the placement
// root. A link at the file itself is refused, never written through or
// replaced. Missing folders are made 0700.
func writeSettings(path string, perm fs.FileMode, text string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("settings folder %s: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("settings folder %s: %w", dir, err)
	}
	err = place.WriteFileAt(filepath.Join(root, filepath.Base(path)), perm, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	})
	if err != nil {
		return fmt.Errorf("settings file %s: %w", path, err)
	}
	return nil
}

// DefaultPath is the settings file used when --config and EDITKIT_CONFIG
// are not given: ~/.config/editkit/config.toml on Linux,
// ~/Library/Application Support/editkit/config.toml on macOS,
// %AppData%\editkit\config.toml on Windows.
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "editkit", "config.toml")
}

// Load reads the settings file at path. A missing file is an empty Config
// unless required (the user named it).
func Load(path string, required bool) (Config, error) {
	var c Config
	if path == "" {
		return c, nil
	}
	md, err := toml.DecodeFile(path, &c)
	if (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) && !required {
		// No settings file in the default place (or another user's home,
		// when run as a different user): the defaults apply.
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("settings file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		return c, fmt.Errorf("settings file %s: unknown setting %s (see `editkit config init` for the valid ones)", path, strings.Join(keys, ", "))
	}
	return c, nil
}

// StateDir is where editkit keeps its own state on this computer: the
// tracker's outbox, the CSV tracker, locks and caches.
// $XDG_STATE_HOME/editkit (~/.local/state/editkit) on Linux,
// ~/Library/Application Support/editkit on macOS, %LocalAppData%\editkit on
// Windows. EDITKIT_STATE_DIR overrides it.
func StateDir() string {
	if d := os.Getenv("EDITKIT_STATE_DIR"); d != "" {
		return d
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "editkit")
		}
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "editkit")
		}
	default:
		if d := os.Getenv("XDG_STATE_HOME"); d != "" {
			return filepath.Join(d, "editkit")
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "state", "editkit")
		}
	}
	return filepath.Join(os.TempDir(), "editkit-state")
}

// Template is the commented settings file `editkit config init` writes.
const Template = `# editkit settings. Command-line flags override these, and environment
# variables override them too (EDITKIT_HUB, AWS_*, GOOGLE_APPLICATION_CREDENTIALS,
# EDITKIT_SHEETS_ENDPOINT). Remove the leading # of a line to use it.

# Where backups and shared media live (the hub):
#   s3://BUCKET/PREFIX   an S3-compatible store (AWS S3, MinIO, Wasabi, B2, a Versity gateway)
#   /Volumes/NAS/hub     a local or NAS folder (also file:///Volumes/NAS/hub)
# hub = "s3://show-hub/editorial"

# S3 endpoint for stores other than AWS (else AWS_ENDPOINT_URL_S3 or
# AWS_ENDPOINT_URL; credentials and region come from the usual AWS places:
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION, AWS_PROFILE,
# ~/.aws/credentials and ~/.aws/config).
# s3_endpoint = "https://s3.wasabisys.com"

# Cap hub uploads and downloads, e.g. to leave room on a 20 Mbit/s home line:
# "12Mbit", "2MB/s".
# bwlimit = "12Mbit"

# When the hub cannot be reached, commands say so ("retrying (attempt 2,
# next in 1s): …") and keep trying this long before giving up (exit 1).
# The backup has its own, longer, setting in [backup]. Flag: --retry-for.
# retry_for = "2m"

# Your name in the tracker and the hub's event log (default: your login name).
# user = "Anna (assistant editor)"

# The folder on the assistant's storage that matches the root of editors'
# drives: media pushed from below it lands at the same place on every drive.
# media_root = "/Volumes/RAID/Show"

# Your key to an encrypted hub (default: identity.txt beside this file,
# which "editkit key new" writes; ~/.ssh/id_ed25519 and id_rsa are tried too).
# identity = "/Users/anna/.config/editkit/identity.txt"

[backup]
# set = "cutting-room"
# paths = ["/Volumes/RAID/Show/Avid Projects", "/Volumes/RAID/Show/Pro Tools"]
# exclude = ["*.tmp", "Render Files/"]
# log = "/Users/anna/Library/Logs/editkit-backup.log"
# How long the nightly backup keeps retrying a hub it cannot reach.
# retry_for = "15m"

[tracker]
# The Google Sheet media tracker (its ID or URL). Without one, rows go to a
# local CSV tracker (csv, below).
# sheet = "https://docs.google.com/spreadsheets/d/1AbC.../edit"
# A service-account key (else GOOGLE_APPLICATION_CREDENTIALS, application
# default credentials, or the login saved by ` + "`editkit tracker login`" + `).
# google_credentials = "/Users/anna/.config/editkit/tracker-sa.json"
# csv = "/Volumes/RAID/Show/Tracker"
# For ` + "`editkit tracker login`" + ` (people without a service account): the OAuth
# client ("Desktop app") of your Google Cloud project.
# oauth_client_id = "1234-abc.apps.googleusercontent.com"
# oauth_client_secret = "GOCSPX-..."

[notify]
# Who hears that a drive is ready, a verify or backup failed, and (with
# ` + "`editkit notify digest`" + ` from cron each morning) what media was pushed and
# pulled. Each URL holds its own token: keep this file private (0600).
# Environment: EDITKIT_NOTIFY_SLACK, EDITKIT_NOTIFY_TEAMS, EDITKIT_NOTIFY_WEBHOOK,
# EDITKIT_SMTP, EDITKIT_SMTP_USER, EDITKIT_SMTP_PASSWORD.
# slack = "https://hooks.slack.com/services/T000/B000/XXXX"
# teams = "https://prod-00.westus.logic.azure.com/workflows/.../triggers/manual/paths/invoke?..."
# webhook = "https://ops.example.com/editkit"
# smtp = "smtp.example.com:587"
# smtp_user = "editkit@example.com"
# from = "editkit <editkit@example.com>"
# to = ["post@example.com"]

[push]
# Where push puts media from outside media_root when no --dest-path is given,
# by category (default: VFX, Music, SFX, Archive, Stock, Stills, Footage,
# Guide VO, Other).
# folders = { vfx = "Avid MediaFiles/MXF/VFX", footage = "Review" }
`
