package address

import (
	"reflect"
	"testing"
)

func TestParseX400(t *testing.T) {
	tests := []struct {
		in     string
		want   X400
		errHas []string
	}{
		{in: "c=US;a= ;p=Contoso;o=HQ;s=Smith;", want: X400{{"c", "US"}, {"a", " "}, {"p", "Contoso"}, {"o", "HQ"}, {"s", "Smith"}}},
		{in: "c=US;a= ;p=Contoso;o=HQ;s=Smith", want: X400{{"c", "US"}, {"a", " "}, {"p", "Contoso"}, {"o", "HQ"}, {"s", "Smith"}}},
		{in: "o=MySite;p=MyOrg;a=adatum;c=us", want: X400{{"o", "MySite"}, {"p", "MyOrg"}, {"a", "adatum"}, {"c", "us"}}},
		{in: "c=US;a=Fabrikam;P=Contoso", want: X400{{"c", "US"}, {"a", "Fabrikam"}, {"p", "Contoso"}}},
		{in: " C = US ; OU1=x=y;dda:smtp=a@b; ", want: X400{{"c", " US "}, {"ou1", "x=y"}, {"dda:smtp", "a@b"}}},
		{in: "a=", want: X400{{"a", ""}}},
		{in: "", errHas: []string{"empty X.400 address"}},
		{in: " ", errHas: []string{"empty X.400 address"}},
		{in: "c=US;;p=x", errHas: []string{"empty attribute", "position 6"}},
		{in: ";c=US", errHas: []string{"empty attribute", "position 1"}},
		{in: "c=US;p", errHas: []string{"missing '='", `"p"`, "position 6"}},
		{in: "c=US;=x", errHas: []string{"empty key", "position 6"}},
		{in: "c=US;o u=x", errHas: []string{"' '", "position 7"}},
		{in: "c=US;s=a\nb", errHas: []string{`'\n'`, "position 9"}},
	}
	for _, tt := range tests {
		x, err := ParseX400(tt.in)
		if tt.errHas != nil {
			wantErr(t, "ParseX400", tt.in, err, tt.errHas)
			continue
		}
		if err != nil || !reflect.DeepEqual(x, tt.want) {
			t.Errorf("ParseX400(%q) = %#v, %v; want %#v", tt.in, x, err, tt.want)
		}
	}
}

func TestX400StringRoundTrip(t *testing.T) {
	for _, s := range []string{"c=US;a= ;p=Contoso;o=HQ;s=Smith;", "o=MySite;p=MyOrg;a=adatum;c=us;", "cn=x=y;dda:smtp=a@b;"} {
		x, err := ParseX400(s)
		if err != nil {
			t.Fatal(err)
		}
		if x.String() != s {
			t.Errorf("String() = %q, want %q", x.String(), s)
		}
		y, err := ParseX400(x.String())
		if err != nil || !reflect.DeepEqual(x, y) {
			t.Errorf("re-parse of %q = %v, %v", x.String(), y, err)
		}
	}
}

func TestX400GetCanonical(t *testing.T) {
	x, _ := ParseX400("S=Smith;ADMD= ;prmd=Contoso;cn=Ann;zz=1;ou2=B;ou1=A;c=US;o=HQ;g=Ann;x121=5")
	if v, ok := x.Get("A"); !ok || v != " " {
		t.Errorf(`Get("A") = %q, %v`, v, ok)
	}
	if v, ok := x.Get("p"); !ok || v != "Contoso" {
		t.Errorf(`Get("p") = %q, %v`, v, ok)
	}
	if _, ok := x.Get("q"); ok {
		t.Error(`Get("q") found an absent key`)
	}
	want := "c=us;a=;p=contoso;o=hq;ou1=a;ou2=b;s=smith;g=ann;cn=ann;x121=5;zz=1;"
	if got := x.Canonical().String(); got != want {
		t.Errorf("Canonical() = %q, want %q", got, want)
	}
}
