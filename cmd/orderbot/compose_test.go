package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"orderbot/bot/slack/slackfake"
	"orderbot/bot/telegram"
)

// The production layout (docker-compose.yml, configs/nginx.conf) cannot run
// here: there is no Docker. These tests keep it consistent with the code,
// the Dockerfile and the README instead.

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// telegramWebhookPrefix is where the layout puts Telegram's webhook: the
// path of TELEGRAM_WEBHOOK_URL is the operator's choice, and the load
// balancer forwards only paths under this prefix.
const telegramWebhookPrefix = "/telegram/"

// maxRequestBody is what the webhook handlers read at most (1 MiB, both
// Telegram's and Slack's); the load balancer must let that much through.
const maxRequestBody = 1 << 20

// composeFile is the part of a Compose file these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports           []string `yaml:"ports"`
	Volumes         []string `yaml:"volumes"`
	Networks        []string `yaml:"networks"`
	Restart         string   `yaml:"restart"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
}

// operatorEnv is an .env file as the operator writes it: only what is required.
var operatorEnv = map[string]string{"POSTGRES_PASSWORD": "s3cr3tpassw0rd"}

// layout is docker-compose.yml, read and checked to have the expected parts.
type layout struct {
	file     composeFile
	raw      string
	replicas []string // services built from the repository, sorted
}

func mustLoadLayout(t *testing.T) *layout {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	l := &layout{raw: string(data)}
	if err := yaml.Unmarshal(data, &l.file); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, s := range l.file.Services {
		if s.Build != nil {
			l.replicas = append(l.replicas, name)
		}
	}
	slices.Sort(l.replicas)
	if len(l.replicas) != 2 {
		t.Fatalf("services built from the repository: %v, want two orderbot replicas", l.replicas)
	}
	return l
}

// replicaEnv is a replica's environment after Compose interpolated it with env.
func (l *layout) replicaEnv(t *testing.T, name string, env map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range l.file.Services[name].Environment {
		s, err := interpolate(v, env)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, k, err)
		}
		out[k] = s
	}
	return out
}

// TestComposeReplicas checks the two replicas: built from the Dockerfile,
// running serve, with only variables the binary reads, pointed at the
// layout's PostgreSQL and Redis, and given the time to shut down cleanly.
func TestComposeReplicas(t *testing.T) {
	l := mustLoadLayout(t)
	documented := usageEnv(t)
	for _, name := range l.replicas {
		t.Run(name, func(t *testing.T) {
			s := l.file.Services[name]
			df := path.Join(s.Build.Context, s.Build.Dockerfile)
			if s.Build.Context != "." || s.Build.Dockerfile == "" {
				t.Errorf("build: context %q, dockerfile %q; want the repository (.) and its Dockerfile", s.Build.Context, s.Build.Dockerfile)
			} else if _, err := os.Stat(filepath.Join(repoRoot, df)); err != nil {
				t.Errorf("build: %v", err)
			}
			if !slices.Equal(s.Command, []string{"serve"}) {
				t.Errorf("command %q, want [serve] (the image runs chat by default)", s.Command)
			}
			if len(s.Ports) > 0 {
				t.Errorf("publishes %v: only the load balancer may", s.Ports)
			}
			if s.Restart == "" || s.Restart == "no" {
				t.Errorf("restart %q: a replica that dies must come back", s.Restart)
			}
			for k := range s.Environment {
				if !documented[k] {
					t.Errorf("sets %s, which the usage of orderbot does not list", k)
				}
			}

			env := l.replicaEnv(t, name, operatorEnv)
			cfg, err := loadConfig("", envFunc(imageEnv(t, env)))
			if err != nil {
				t.Fatalf("the replica's environment does not configure orderbot: %v", err)
			}
			host, port, err := net.SplitHostPort(cfg.HTTP.Addr)
			if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
				t.Errorf("http.addr %q: the load balancer reaches replicas over the network, listen on every interface (:PORT)", cfg.HTTP.Addr)
			}
			if _, err := strconv.Atoi(port); err != nil {
				t.Errorf("http.addr %q has no numeric port", cfg.HTTP.Addr)
			}
			// runServe gives the messages in flight hub.timeout and 5s more.
			grace, err := time.ParseDuration(s.StopGracePeriod)
			if budget := cfg.Hub.Timeout + 5*time.Second; err != nil || grace <= budget {
				t.Errorf("stop_grace_period %q: want more than serve's shutdown budget of %s", s.StopGracePeriod, budget)
			}

			db := l.store(t, name, env, "ORDERBOT_DATABASE_URL", "postgres", "postgres:")
			if db != nil {
				pg := l.file.Services[db.Hostname()]
				pw, _ := db.User.Password()
				if db.User.Username() != pg.Environment["POSTGRES_USER"] || pw != operatorEnv["POSTGRES_PASSWORD"] || db.Path != "/"+pg.Environment["POSTGRES_DB"] {
					t.Errorf("ORDERBOT_DATABASE_URL is not the role, password and database the postgres service creates")
				}
				if !slices.Contains(pg.Healthcheck.Test, "pg_isready") {
					t.Errorf("postgres healthcheck %q: want pg_isready", pg.Healthcheck.Test)
				}
			}
			rd := l.store(t, name, env, "ORDERBOT_REDIS_URL", "redis", "redis:")
			if rd != nil {
				r := l.file.Services[rd.Hostname()]
				if !strings.Contains(strings.Join(r.Command, " "), "--appendonly yes") {
					t.Errorf("redis command %q: want --appendonly yes, so that sessions survive a restart", r.Command)
				}
				if !strings.Contains(strings.Join(r.Healthcheck.Test, " "), "redis-cli ping") {
					t.Errorf("redis healthcheck %q: want redis-cli ping", r.Healthcheck.Test)
				}
			}
		})
	}
}

// store checks that the replica's variable key is a URL of scheme pointing
// at a service of the layout whose image starts with image, that the
// replica waits for it to be healthy, and returns the URL.
func (l *layout) store(t *testing.T, replica string, env map[string]string, key, scheme, image string) *url.URL {
	t.Helper()
	v, ok := env[key]
	if !ok {
		t.Errorf("%s is not set", key)
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != scheme {
		t.Errorf("%s: want a %s:// URL", key, scheme)
		return nil
	}
	svc, ok := l.file.Services[u.Hostname()]
	if !ok || !strings.HasPrefix(svc.Image, image) {
		t.Errorf("%s points at %q, not at a service of image %s…", key, u.Hostname(), image)
		return nil
	}
	if svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0 {
		t.Errorf("service %s has no healthcheck", u.Hostname())
		return nil
	}
	if c := l.file.Services[replica].DependsOn[u.Hostname()].Condition; c != "service_healthy" {
		t.Errorf("depends_on %s: condition %q, want service_healthy", u.Hostname(), c)
	}
	if !l.shareNetwork(replica, u.Hostname()) {
		t.Errorf("%s and %s share no network", replica, u.Hostname())
	}
	if len(svc.Ports) > 0 {
		t.Errorf("service %s publishes %v: only the load balancer may", u.Hostname(), svc.Ports)
	}
	for _, n := range svc.Networks {
		if !l.file.Networks[n].Internal {
			t.Errorf("service %s is on network %s, which is not internal", u.Hostname(), n)
		}
	}
	return u
}

// shareNetwork reports whether services a and b are on a common network.
func (l *layout) shareNetwork(a, b string) bool {
	nets := func(s string) []string {
		if n := l.file.Services[s].Networks; len(n) > 0 {
			return n
		}
		return []string{"default"}
	}
	for _, n := range nets(a) {
		if slices.Contains(nets(b), n) {
			return true
		}
	}
	return false
}

// TestComposeSecretsFromEnv checks that the channels' credentials and every
// secret come from the operator's .env, as they are, and that nothing else
// is required of it than what the README's production layout documents.
func TestComposeSecretsFromEnv(t *testing.T) {
	l := mustLoadLayout(t)
	for _, name := range l.replicas {
		for k, raw := range l.file.Services[name].Environment {
			channel := strings.HasPrefix(k, "TELEGRAM_") || strings.HasPrefix(k, "SLACK_")
			secret := strings.Contains(k, "TOKEN") || strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD")
			if !channel && !secret {
				continue
			}
			env := map[string]string{k: "from-dotenv-" + k}
			for rk, rv := range operatorEnv {
				env[rk] = rv
			}
			if got, err := interpolate(raw, env); err != nil || got != env[k] {
				t.Errorf("%s: %s is %q: want ${%s:-} (or :?), passed from .env as it is", name, k, raw, k)
			}
		}
	}

	if _, err := interpolate(l.raw, operatorEnv); err != nil {
		t.Errorf("an .env with only %v: %v", slices.Sorted(maps.Keys(operatorEnv)), err)
	}
	if _, err := interpolate(l.raw, nil); err == nil {
		t.Errorf("an empty .env is accepted: want POSTGRES_PASSWORD required")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := markdownSection(string(readme), "## Production layout")
	if section == "" {
		t.Fatal(`README.md has no "## Production layout" section`)
	}
	for _, v := range interpolatedNames(l.raw) {
		if !strings.Contains(section, v) {
			t.Errorf("README's production layout does not mention %s, which docker-compose.yml reads from .env", v)
		}
	}
	if !strings.Contains(section, telegramWebhookPrefix) {
		t.Errorf("README's production layout does not say that the webhook's path is under %s", telegramWebhookPrefix)
	}
}

// TestComposeDockerfile checks that the image the replicas are built from
// runs what they rely on: /orderbot as the entrypoint (serve is its
// argument), the configuration ORDERBOT_CONFIG names, the HTTP port.
func TestComposeDockerfile(t *testing.T) {
	l := mustLoadLayout(t)
	name := l.replicas[0]
	stage := finalStage(t, filepath.Join(repoRoot, l.file.Services[name].Build.Dockerfile))
	env := l.replicaEnv(t, name, operatorEnv)

	var entrypoint []string
	if err := json.Unmarshal([]byte(stage["ENTRYPOINT"][0]), &entrypoint); err != nil || !slices.Equal(entrypoint, []string{"/orderbot"}) {
		t.Errorf("the final stage's ENTRYPOINT is %q, want [\"/orderbot\"]", stage["ENTRYPOINT"])
	}
	if !slices.ContainsFunc(stage["COPY"], func(c string) bool { return strings.HasSuffix(c, " /orderbot") }) {
		t.Errorf("the final stage copies no binary to /orderbot: %q", stage["COPY"])
	}
	imageEnv(t, env) // fails unless the image holds the file ORDERBOT_CONFIG names
	_, port, _ := net.SplitHostPort(env["ORDERBOT_HTTP_ADDR"])
	for _, e := range stage["EXPOSE"] {
		if !slices.Contains(strings.Fields(strings.ReplaceAll(e, "/tcp", "")), port) {
			t.Errorf("the image exposes %q, the replicas listen on %s", e, port)
		}
	}
}

// imageEnv maps a replica's environment to this checkout: ORDERBOT_CONFIG,
// a path in the image, becomes the file the Dockerfile copies there.
func imageEnv(t *testing.T, env map[string]string) []string {
	t.Helper()
	stage := finalStage(t, filepath.Join(repoRoot, "Dockerfile"))
	var out []string
	for k, v := range env {
		if k == "ORDERBOT_CONFIG" {
			dir, file := path.Split(v)
			var src string
			for _, c := range stage["COPY"] {
				if f := strings.Fields(c); path.Clean(f[len(f)-1]) == path.Clean(dir) {
					src = path.Base(f[len(f)-2])
				}
			}
			if src == "" {
				t.Fatalf("ORDERBOT_CONFIG %s: the Dockerfile's final stage copies nothing to %s", v, dir)
			}
			v = filepath.Join(repoRoot, src, file)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// TestComposeLoadBalancer checks the load balancer: the only service that
// publishes a port, its nginx.conf mounted, its upstream every replica on
// the port they listen on, every public route of serve forwarded with its
// headers and body, and /metrics kept private.
func TestComposeLoadBalancer(t *testing.T) {
	l := mustLoadLayout(t)
	var lbName string
	for name, s := range l.file.Services {
		if len(s.Ports) > 0 {
			if lbName != "" {
				t.Fatalf("%s and %s publish ports: only the load balancer may", lbName, name)
			}
			lbName = name
		}
	}
	if lbName == "" {
		t.Fatal("no service publishes a port")
	}
	lb := l.file.Services[lbName]
	if !strings.HasPrefix(lb.Image, "nginx:") {
		t.Fatalf("%s: image %q, want nginx", lbName, lb.Image)
	}
	const mount = "./configs/nginx.conf:/etc/nginx/nginx.conf:ro"
	if !slices.Contains(lb.Volumes, mount) {
		t.Fatalf("%s: volumes %q, want %s", lbName, lb.Volumes, mount)
	}
	conf := mustParseNginx(t, filepath.Join(repoRoot, "configs", "nginx.conf"))
	main := conf.block(t, "http")

	upstreams := map[string][]string{}
	for _, u := range main.all("upstream") {
		for _, s := range u.all("server") {
			upstreams[u.args[0]] = append(upstreams[u.args[0]], s.args[0])
		}
	}
	var want []string
	for _, name := range l.replicas {
		_, port, _ := net.SplitHostPort(l.replicaEnv(t, name, operatorEnv)["ORDERBOT_HTTP_ADDR"])
		want = append(want, name+":"+port)
		if !l.shareNetwork(lbName, name) {
			t.Errorf("%s and %s share no network", lbName, name)
		}
		if _, ok := lb.DependsOn[name]; !ok {
			t.Errorf("%s does not depend on %s", lbName, name)
		}
	}

	server := main.block(t, "server")
	listen := server.block(t, "listen").args[0]
	published := lb.Ports[0][strings.LastIndex(lb.Ports[0], ":")+1:]
	if strings.TrimSuffix(published, "/tcp") != listen {
		t.Errorf("%s publishes %s, nginx listens on %s", lbName, lb.Ports[0], listen)
	}
	if size := server.block(t, "client_max_body_size").args[0]; nginxSize(t, size) < maxRequestBody {
		t.Errorf("client_max_body_size %s: below the %d bytes a webhook may carry", size, maxRequestBody)
	}
	var targets []string // of proxy_pass
	for _, d := range conf.walk() {
		switch {
		case d.name == "proxy_set_header" && slices.ContainsFunc([]string{telegram.SecretHeader, slackfake.HeaderSignature, slackfake.HeaderTimestamp}, func(h string) bool { return strings.EqualFold(h, d.args[0]) }):
			t.Errorf("proxy_set_header %s: the replicas need it as the sender sent it", d.args[0])
		case (d.name == "proxy_pass_request_headers" || d.name == "proxy_pass_request_body") && d.args[0] == "off":
			t.Errorf("%s off: the replicas verify the headers and the body", d.name)
		case d.name == "proxy_pass" && !slices.Contains(targets, d.args[0]):
			targets = append(targets, d.args[0])
		}
	}
	for _, target := range targets {
		if got := upstreams[strings.TrimPrefix(target, "http://")]; !slices.Equal(sortedCopy(got), want) {
			t.Errorf("proxy_pass %s: its upstream lists %v, want every replica: %v", target, got, want)
		}
	}

	locations := server.all("location")
	routes := serveRoutes(t)
	for _, r := range append(routes, "/metrics") {
		loc := matchLocation(t, locations, r)
		proxied := loc != nil && loc.has("proxy_pass")
		switch {
		case r == "/metrics" && proxied:
			t.Errorf("/metrics is public through location %v: keep it on the compose network", loc.args)
		case r != "/metrics" && !proxied:
			t.Errorf("serve's route %s is not forwarded by the load balancer", r)
		}
	}
	for _, loc := range locations {
		if !loc.has("proxy_pass") {
			continue
		}
		p := loc.args[len(loc.args)-1]
		used := p == telegramWebhookPrefix
		for _, r := range routes {
			used = used || matchLocation(t, locations, r) == loc
		}
		if !used {
			t.Errorf("location %v forwards no route serve serves", loc.args)
		}
	}
}

// usageEnv is the environment variables the usage text lists.
func usageEnv(t *testing.T) map[string]bool {
	t.Helper()
	_, env, ok := strings.Cut(usage, "\nEnvironment:\n")
	if !ok {
		t.Fatal("the usage has no Environment section")
	}
	vars := map[string]bool{}
	for _, w := range regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b`).FindAllString(env, -1) {
		vars[w] = true
	}
	return vars
}

// serveRoutes is the paths runServe registers on its mux, read from serve.go.
func serveRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("serve.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range regexp.MustCompile(`mux\.Handle(?:Func)?\("(?:[A-Z]+ )?(/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		routes = append(routes, m[1])
	}
	if !slices.Contains(routes, "/healthz") {
		t.Fatalf("routes read from serve.go: %q, want /healthz among them", routes)
	}
	return routes
}

// matchLocation is the location nginx chooses for path: an exact match,
// else the longest prefix. It refuses regular expressions.
func matchLocation(t *testing.T, locations []*directive, p string) *directive {
	t.Helper()
	var best *directive
	for _, loc := range locations {
		switch {
		case len(loc.args) == 2 && loc.args[0] == "=":
			if loc.args[1] == p {
				return loc
			}
		case len(loc.args) == 2 && loc.args[0] == "^~", len(loc.args) == 1:
			pre := loc.args[len(loc.args)-1]
			if strings.HasPrefix(p, pre) && (best == nil || len(pre) > len(best.args[len(best.args)-1])) {
				best = loc
			}
		default:
			t.Fatalf("location %v: only exact and prefix locations are checked", loc.args)
		}
	}
	return best
}

// finalStage is the instructions of a Dockerfile's last stage, by name,
// with their arguments.
func finalStage(t *testing.T, name string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var stage map[string][]string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, args, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			stage = map[string][]string{}
		}
		if stage != nil {
			stage[instr] = append(stage[instr], strings.TrimSpace(args))
		}
	}
	if len(stage["ENTRYPOINT"]) == 0 {
		t.Fatalf("%s: the final stage has no ENTRYPOINT", name)
	}
	return stage
}

// interpolate expands variables in a Compose file's text as Compose does:
// $$ is a dollar sign; $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error}, ${VAR?error}, ${VAR:+other} and ${VAR+other} read env.
func interpolate(s string, env map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		rest := s[i+1:]
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed ${ in %q", s)
			}
			v, err := expandVar(rest[1:end], env)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += end + 1
		default:
			n := len(rest) - len(strings.TrimLeft(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"))
			if n == 0 {
				return "", fmt.Errorf("a lone $ in %q: write $$", s)
			}
			b.WriteString(env[rest[:n]])
			i += n
		}
	}
	return b.String(), nil
}

var varExpr = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$`)

// expandVar expands the inside of one ${…}.
func expandVar(expr string, env map[string]string) (string, error) {
	m := varExpr.FindStringSubmatch(expr)
	if m == nil || strings.Contains(m[3], "$") {
		return "", fmt.Errorf("${%s}: not a variable this test understands", expr)
	}
	v, set := env[m[1]]
	if strings.HasPrefix(m[2], ":") {
		set = set && v != ""
	}
	switch strings.TrimPrefix(m[2], ":") {
	case "-":
		if !set {
			return m[3], nil
		}
	case "?":
		if !set {
			return "", fmt.Errorf("%s: %s", m[1], m[3])
		}
	case "+":
		if set {
			return m[3], nil
		}
		return "", nil
	}
	return v, nil
}

// interpolatedNames is the variables text reads from .env, sorted.
func interpolatedNames(text string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(strings.ReplaceAll(text, "$$", ""), -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return names
}

// markdownSection is the section of doc under heading, up to the next
// heading of the same level.
func markdownSection(doc, heading string) string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// directive is one nginx directive: its name, arguments and block, if any.
type directive struct {
	name     string
	args     []string
	children []*directive
}

// all is the directives of d's block named name.
func (d *directive) all(name string) []*directive {
	var out []*directive
	for _, c := range d.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (d *directive) has(name string) bool { return len(d.all(name)) > 0 }

// block is the one directive of d's block named name.
func (d *directive) block(t *testing.T, name string) *directive {
	t.Helper()
	ds := d.all(name)
	if len(ds) != 1 {
		t.Fatalf("nginx.conf: want one %s in %s %v, found %d", name, d.name, d.args, len(ds))
	}
	return ds[0]
}

// walk is every directive under d, depth first.
func (d *directive) walk() []*directive {
	var out []*directive
	for _, c := range d.children {
		out = append(out, c)
		out = append(out, c.walk()...)
	}
	return out
}

// mustParseNginx reads an nginx configuration: words and quoted strings,
// directives ended by ";" or by a block in braces, "#" comments.
func mustParseNginx(t *testing.T, name string) *directive {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for line := range strings.Lines(string(data)) {
		for i := 0; i < len(line); {
			switch c := line[i]; {
			case c == '#':
				i = len(line)
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				i++
			case c == '{' || c == '}' || c == ';':
				tokens = append(tokens, string(c))
				i++
			case c == '"' || c == '\'':
				end := strings.IndexByte(line[i+1:], c)
				if end < 0 {
					t.Fatalf("%s: unclosed quote in %q", name, line)
				}
				tokens = append(tokens, line[i+1:i+1+end])
				i += end + 2
			default:
				j := i
				for j < len(line) && !strings.ContainsRune(" \t\r\n{};#", rune(line[j])) {
					j++
				}
				tokens = append(tokens, line[i:j])
				i = j
			}
		}
	}
	root := &directive{name: "main"}
	stack := []*directive{root}
	var cur *directive
	for _, tok := range tokens {
		top := stack[len(stack)-1]
		switch {
		case tok == ";" && cur != nil:
			top.children = append(top.children, cur)
			cur = nil
		case tok == "{" && cur != nil:
			cur.children = []*directive{}
			top.children = append(top.children, cur)
			stack = append(stack, cur)
			cur = nil
		case tok == "}" && cur == nil && len(stack) > 1:
			stack = stack[:len(stack)-1]
		case tok == ";" || tok == "{" || tok == "}":
			t.Fatalf("%s: unexpected %q", name, tok)
		case cur == nil:
			cur = &directive{name: tok}
		default:
			cur.args = append(cur.args, tok)
		}
	}
	if cur != nil || len(stack) != 1 {
		t.Fatalf("%s: unterminated directive or block", name)
	}
	return root
}

// nginxSize is an nginx size (1m, 512k, 1024) in bytes.
func nginxSize(t *testing.T, s string) int {
	t.Helper()
	mult := 1
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult, s = 1<<10, s[:len(s)-1]
	case "m":
		mult, s = 1<<20, s[:len(s)-1]
	case "g":
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("nginx size %q: %v", s, err)
	}
	return n * mult
}
