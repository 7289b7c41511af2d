package console

import (
	"strings"
	"testing"
)

func testNames() *names {
	return &names{
		users:    map[string]string{olivia: "Olivia", chandra: "Chandra"},
		groups:   map[string]string{"S0CHANGE": "change-managers"},
		channels: map[string]string{testChannel: "kong-upgrades"},
		me:       chandra,
	}
}

func TestMrkdwn(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world", "hello world"},
		{"bold", "*State*", "<b>State</b>"},
		{"italic", "_soon_", "<i>soon</i>"},
		{"strike", "~gone~", "<s>gone</s>"},
		{"nested", "*bold _and italic_*", "<b>bold <i>and italic</i></b>"},
		{"bold then line", "*State*\n✋ awaiting approval", "<b>State</b><br>✋ awaiting approval"},
		{"no bold across lines", "*a\nb*", "*a<br>b*"},
		{"star as multiplication", "2 * 3 * 4", "2 * 3 * 4"},
		{"snake_case stays", "run_id_here", "run_id_here"},
		{"marker inside word", "a*b*c", "a*b*c"},
		{"bold with punctuation after", "*done*.", "<b>done</b>."},
		{"bold in parentheses", "(*yes*)", "(<b>yes</b>)"},
		{"unpaired", "*open", "*open"},
		{"inline code", "run `kong migrations up`", `run <code class="md-code">kong migrations up</code>`},
		{"code keeps markers", "`*not bold*`", `<code class="md-code">*not bold*</code>`},
		{"code unescapes once", "`a &lt;b&gt; &amp;amp;`", `<code class="md-code">a &lt;b&gt; &amp;amp;</code>`},
		{"code block", "before\n```\n$ kong start\n<script>\n```\nafter",
			`before<pre class="md-pre">$ kong start
&lt;script&gt;</pre>after`},
		{"code block inline", "```x *y*```", `<pre class="md-pre">x *y*</pre>`},
		{"unpaired fence", "``` not code", "``` not code"},
		{"user mention", "by <@U0DEMOOPS>", `by <span class="mention" data-user-id="U0DEMOOPS">@Olivia</span>`},
		{"me", "<@U0DEMOCHG>", `<span class="mention me" data-user-id="U0DEMOCHG">@Chandra</span>`},
		{"unknown user", "<@W0BOBBY42>", `<span class="mention" data-user-id="W0BOBBY42">@W0BOBBY42</span>`},
		{"labelled user", "<@U0X|ann>", `<span class="mention" data-user-id="U0X">@ann</span>`},
		{"group", "<!subteam^S0CHANGE>", `<span class="mention group" data-group-id="S0CHANGE">@change-managers</span>`},
		{"labelled group", "<!subteam^S0OTHER|@dbas>", `<span class="mention group" data-group-id="S0OTHER">@dbas</span>`},
		{"channel", "<#C0DEMO00001>", `<span class="mention channel" data-channel-id="C0DEMO00001">#kong-upgrades</span>`},
		{"here", "<!here>", `<span class="mention special">@here</span>`},
		{"date", "<!date^1700000000^{date}|Nov 14>", `<span class="date">Nov 14</span>`},
		{"link", "<https://example.com/a?b=1&amp;c=2|the docs>",
			`<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the docs</a>`},
		{"bare link", "<http://x.test>", `<a href="http://x.test" target="_blank" rel="noopener noreferrer">http://x.test</a>`},
		{"bold link", "*<https://x.test|docs>*", `<b><a href="https://x.test" target="_blank" rel="noopener noreferrer">docs</a></b>`},
		{"bold around mention", "*approved by <@U0DEMOOPS>*", `<b>approved by <span class="mention" data-user-id="U0DEMOOPS">@Olivia</span></b>`},
		{"javascript link refused", "<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"},
		{"escapes", "a &lt;b&gt; &amp; c", "a &lt;b&gt; &amp; c"},
		{"unknown entity shown as typed", "&quot;", "&amp;quot;"},
		{"raw html escaped", `<script>alert("x")</script>`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"},
		{"raw img escaped", `<img src=x onerror=alert(1)>`, "&lt;img src=x onerror=alert(1)&gt;"},
		{"quotes in text", `it's "fine"`, "it&#39;s &#34;fine&#34;"},
		{"quote", "&gt; quoted *line*\nnext", `<blockquote class="md-quote">quoted <b>line</b></blockquote>next`},
		{"emoji", "✅ 1. preflight — 4.0s", "✅ 1. preflight — 4.0s"},
	}
	n := testNames()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.mrkdwnHTML(tt.in); got != tt.want {
				t.Errorf("mrkdwnHTML(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// Whatever the input, no tag but the renderer's own comes out.
func TestMrkdwnNeverPassesHTML(t *testing.T) {
	allowed := []string{"<b>", "</b>", "<i>", "</i>", "<s>", "</s>", "<br>", `<code class="md-code">`, "</code>",
		`<pre class="md-pre">`, "</pre>", `<blockquote class="md-quote">`, "</blockquote>", "<span ", "</span>", "<a ", "</a>"}
	inputs := []string{
		`<script>alert(1)</script>`, `<<script>>`, `<a href="javascript:x">y</a>`, "`<b>`", "```<i>```",
		`<@U1"><script>>`, `<!subteam^S1|<b>x</b>>`, `<https://x.test|<img src=x>>`, `<#C1|"><svg/onload=1>>`,
		"*<x>*", "_<y>_", "&lt;script&gt;", `<mailto:a@b.test|"quoted">`, "<https://x.test/\"onmouseover=\"1>",
	}
	n := testNames()
	for _, in := range inputs {
		out := n.mrkdwnHTML(in)
		rest := out
		for _, a := range allowed {
			rest = strings.ReplaceAll(rest, a, "")
		}
		if strings.Contains(rest, "<") {
			t.Errorf("mrkdwnHTML(%q) = %s: a tag got through", in, out)
		}
		if strings.Contains(out, `href="javascript`) {
			t.Errorf("mrkdwnHTML(%q) = %s: a javascript: link", in, out)
		}
	}
}

func TestPlainHTML(t *testing.T) {
	if got, want := plainHTML("a &lt;b&gt; *c*\n<i>"), "a &lt;b&gt; *c*<br>&lt;i&gt;"; got != want {
		t.Errorf("plainHTML = %s, want %s", got, want)
	}
}
