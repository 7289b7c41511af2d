package config

import (
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

// ChangeTicket is a cluster's rule for change tickets (start/schedule --ticket).
type ChangeTicket struct {
	Required bool   `yaml:"required"` // a run needs a ticket
	Pattern  string `yaml:"pattern"`  // a regular expression a ticket must match (anchor it)
	URL      string `yaml:"url"`      // text/template with .Ticket: where the ticket is read

	re   *regexp.Regexp
	tmpl *template.Template
}

// Check says whether ticket may start a run on the cluster: required and present, and
// matching the pattern.
func (t *ChangeTicket) Check(cluster, ticket string) error {
	form := ""
	if t.Pattern != "" {
		form = " matching " + t.Pattern
	}
	switch {
	case ticket == "" && t.Required:
		return fmt.Errorf("%s requires a change ticket: add --ticket <ticket>%s", cluster, form)
	case ticket == "":
		return nil
	case strings.ContainsAny(ticket, "<>|&\n\r\t "):
		return fmt.Errorf("change ticket %q has characters a ticket number does not", ticket)
	case t.pattern() != nil && !t.pattern().MatchString(ticket):
		return fmt.Errorf("change ticket %q is not of the form %s wants: %s", ticket, cluster, t.Pattern)
	}
	return nil
}

// pattern is the compiled pattern: compiled by validation, or here for a rule built in
// code (never stored: the configuration is read by many goroutines at once).
func (t *ChangeTicket) pattern() *regexp.Regexp {
	if t.re != nil || t.Pattern == "" {
		return t.re
	}
	re, _ := regexp.Compile(t.Pattern)
	return re
}

// Link is the ticket's URL ("" without a url template).
func (t *ChangeTicket) Link(ticket string) string {
	if t.URL == "" || ticket == "" {
		return ""
	}
	tmpl := t.tmpl // compiled by validation; a rule built in code compiles here, unstored
	if tmpl == nil {
		var err error
		if tmpl, err = template.New("url").Option("missingkey=error").Parse(t.URL); err != nil {
			return ""
		}
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, struct{ Ticket string }{ticket}); err != nil {
		return ""
	}
	return b.String()
}

// validate checks the rule: the pattern compiles, the URL template renders an http(s) URL.
func (v *validator) changeTicket(p string, t *ChangeTicket) {
	tp := join(p, "change_ticket")
	if t.Pattern != "" {
		re, err := regexp.Compile(t.Pattern)
		if err != nil {
			v.col.add(join(tp, "pattern"), "a regular expression such as '^CHG[0-9]{7}$'", "does not compile: %v", err)
		} else {
			t.re = re
		}
	}
	if t.URL != "" {
		tmpl, err := template.New("url").Option("missingkey=error").Parse(t.URL)
		if err != nil {
			v.col.add(join(tp, "url"), "a URL template such as 'https://itsm.example.com/{{.Ticket}}'", "%v", cleanTemplateErr(err))
			return
		}
		t.tmpl = tmpl
		var b strings.Builder
		if err := tmpl.Execute(&b, struct{ Ticket string }{"CHG0000001"}); err != nil {
			v.col.add(join(tp, "url"), "only the field .Ticket", "%v", cleanTemplateErr(err))
		} else if !strings.HasPrefix(b.String(), "https://") && !strings.HasPrefix(b.String(), "http://") {
			v.col.add(join(tp, "url"), "an http:// or https:// URL", "renders %q", b.String())
		}
	}
}
