package tracker

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseSpreadsheetID accepts a spreadsheet ID or any address of the sheet
// a person might paste — https://docs.google.com/spreadsheets/d/<ID>/edit#gid=0,
// with /u/1/ for a second account, with ?usp=sharing — and returns the ID.
func ParseSpreadsheetID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("no spreadsheet given")
	}
	if !strings.Contains(s, "/") {
		if !validID(s) {
			return "", fmt.Errorf("%q is not a Google spreadsheet ID or address: the ID is the long part after /d/ in the sheet's address", s)
		}
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a Google spreadsheet address", s)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] != "d" {
			continue
		}
		id := parts[i+1]
		if id == "e" {
			return "", fmt.Errorf("%s is a \"published to the web\" link, which cannot be written to: use the address of the sheet itself (…/spreadsheets/d/<ID>/edit)", s)
		}
		if validID(id) {
			return id, nil
		}
	}
	if id := u.Query().Get("key"); validID(id) { // old-style ?key=<ID>
		return id, nil
	}
	return "", fmt.Errorf("cannot find the spreadsheet ID in %s: it is the long part after /d/ in the sheet's address", s)
}

func validID(id string) bool {
	if len(id) < 10 || len(id) > 200 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
