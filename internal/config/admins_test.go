package config

import "testing"

func TestAdministrators(t *testing.T) {
	mailbox := `
[[recipient]]
name = "Carol"
kind = "mailbox"
server = "hub1"
addresses = ["SMTP:carol@contoso.test"]
[[recipient]]
name = "Staff"
kind = "group"
addresses = ["SMTP:staff@contoso.test"]
members = ["carol@contoso.test"]
`
	text := "[organization]\ndefault_domain = \"contoso.test\"\nadministrators = [\"carol\", \"carol@CONTOSO.test\"]\n" + base[len("[organization]\ndefault_domain = \"contoso.test\"\n"):] + mailbox
	org, err := Parse([]byte(text), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	carol := AdministratorEntry(org.Recipients, "Carol")
	if carol == nil || !IsAdministrator(carol, org.Administrators) {
		t.Fatalf("Carol is not an administrator: %v", org.Administrators)
	}
	if staff := AdministratorEntry(org.Recipients, "Staff"); IsAdministrator(staff, []string{"Staff"}) {
		t.Error("a group counts as an administrator")
	}
	errs := parseErrs(t, "[organization]\ndefault_domain = \"contoso.test\"\nadministrators = [\"Dave\", \"Staff\", \"\", \"Carol\", \"carol\"]\n"+
		base[len("[organization]\ndefault_domain = \"contoso.test\"\n"):]+mailbox)
	want(t, errs, 3, `administrator "Dave" is not a recipient`)
	want(t, errs, 3, `administrator "Staff" is a group, not a mailbox`)
	want(t, errs, 3, `administrator "" is empty`)
	want(t, errs, 3, `administrator "carol" is listed twice`)
}
