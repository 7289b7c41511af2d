package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/drawbridge/drawbridge/config"
)

var update = flag.Bool("update", false, "rewrite manifests/drawbridge.yaml from the chart's default values")

const (
	chartDir  = "helm/drawbridge"
	manifests = "manifests/drawbridge.yaml"
)

// object is one rendered Kubernetes object, decoded strictly into its API type.
type object struct {
	source string // the template it came from
	kind   string
	value  any // *appsv1.StatefulSet, *corev1.Secret, …
}

// newObject returns an empty value of the API type of apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, nil
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, nil
	}
	return nil, fmt.Errorf("no API type known for apiVersion %q kind %q", apiVersion, kind)
}

// render renders the chart with vals over its defaults, as `helm template drawbridge` would,
// and returns the documents in template order, joined as one YAML stream.
func render(t *testing.T, vals map[string]any) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: "drawbridge", Namespace: "drawbridge", IsInstall: true, Revision: 1}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return joinDocs(ch, out)
}

func joinDocs(ch *chart.Chart, out map[string]string) string {
	names := make([]string, 0, len(out))
	for name := range out {
		if strings.HasSuffix(name, ".yaml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		for _, doc := range strings.Split(out[name], "\n---\n") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", strings.TrimPrefix(name, ch.Name()+"/"), strings.TrimSpace(doc))
		}
	}
	return b.String()
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// decode decodes every document of stream strictly: a field the API type lacks, a duplicate
// key or an unknown kind fails the test.
func decode(t *testing.T, stream string) []object {
	t.Helper()
	var objs []object
	for _, doc := range strings.Split(stream, "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		source := strings.TrimPrefix(strings.SplitN(doc, "\n", 2)[0], "# Source: ")
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s: not YAML: %v\n%s", source, err, doc)
		}
		var meta struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		v, err := newObject(meta.APIVersion, meta.Kind)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: %s does not decode strictly: %v", source, meta.Kind, err)
		}
		objs = append(objs, object{source: source, kind: meta.Kind, value: v})
	}
	return objs
}

func find[T any](t *testing.T, objs []object) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.value.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T rendered", zero)
	return zero
}

func kinds(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.kind)
	}
	sort.Strings(ks)
	return ks
}

func TestChartDefault(t *testing.T) {
	objs := decode(t, render(t, nil))
	if got, want := kinds(objs), []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "StatefulSet"}; !slices.Equal(got, want) {
		t.Fatalf("default values render %v, want %v", got, want)
	}
	sts := find[*appsv1.StatefulSet](t, objs)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1 (bbolt has one writer)", sts.Spec.Replicas)
	}
	pod := sts.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want non-root with seccomp RuntimeDefault", psc)
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext = %+v, want a read-only root, no privilege escalation, ALL capabilities dropped", sc)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes = %+v / %+v, want /healthz and /readyz", c.LivenessProbe, c.ReadinessProbe)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/var/lib/drawbridge"] != "data" || mounts["/tmp"] != "tmp" || mounts["/etc/drawbridge"] != "config" {
		t.Errorf("mounts = %v, want the data volume, /tmp and the config", mounts)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("volumeClaimTemplates = %+v, want one named data", sts.Spec.VolumeClaimTemplates)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("the ServiceAccount token is mounted without rbac.create")
	}

	// The default config is examples/kubernetes.yaml and is one serve would accept (but for
	// its secrets), with the state on the volume.
	cm := find[*corev1.ConfigMap](t, objs)
	example, err := os.ReadFile("../examples/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["config.yaml"]; strings.TrimSpace(got) != strings.TrimSpace(string(example)) {
		t.Errorf("the chart's default config differs from examples/kubernetes.yaml: copy it to %s/files/config.yaml", chartDir)
	}
	path := t.TempDir() + "/config.yaml"
	if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }, AllowMissingEnv: true})
	if err != nil {
		t.Fatalf("the ConfigMap's config does not validate: %v", err)
	}
	if !strings.HasPrefix(cfg.StateFile, "/var/lib/drawbridge/") {
		t.Errorf("state_file %q is not on the volume", cfg.StateFile)
	}
}

func TestChartVariants(t *testing.T) {
	tests := []struct {
		name  string
		vals  string
		kinds []string
		check func(t *testing.T, objs []object)
	}{
		{
			name:  "http with ingress",
			vals:  "ingress: {enabled: true, className: nginx, host: db.example.com, tlsSecretName: db-tls}\n",
			kinds: []string{"ConfigMap", "Ingress", "Secret", "Service", "ServiceAccount", "StatefulSet"},
			check: func(t *testing.T, objs []object) {
				ing := find[*networkingv1.Ingress](t, objs)
				r := ing.Spec.Rules[0]
				if r.Host != "db.example.com" || r.HTTP.Paths[0].Path != "/slack/" || r.HTTP.Paths[0].Backend.Service.Name != "drawbridge" || len(ing.Spec.TLS) != 1 {
					t.Errorf("ingress = %+v", ing.Spec)
				}
			},
		},
		{
			name:  "existing secret",
			vals:  "secret: {existingSecret: drawbridge-env}\n",
			kinds: []string{"ConfigMap", "Service", "ServiceAccount", "StatefulSet"},
			check: func(t *testing.T, objs []object) {
				sts := find[*appsv1.StatefulSet](t, objs)
				if ref := sts.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef; ref == nil || ref.Name != "drawbridge-env" {
					t.Errorf("envFrom = %+v, want the existing Secret", sts.Spec.Template.Spec.Containers[0].EnvFrom)
				}
			},
		},
		{
			name:  "secret from values",
			vals:  "secret: {env: {SLACK_BOT_TOKEN: xoxb-1, SLACK_APP_TOKEN: xapp-1, KONG_PG_DSN: 'postgres://kong@db/kong'}}\n",
			kinds: []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "StatefulSet"},
			check: func(t *testing.T, objs []object) {
				s := find[*corev1.Secret](t, objs)
				if s.StringData["SLACK_APP_TOKEN"] != "xapp-1" || len(s.StringData) != 3 {
					t.Errorf("secret stringData = %v", s.StringData)
				}
			},
		},
		{
			name:  "service monitor",
			vals:  "serviceMonitor: {enabled: true, labels: {release: kps}}\n",
			kinds: []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "ServiceMonitor", "StatefulSet"},
			check: func(t *testing.T, objs []object) {
				sm := find[*monitoringv1.ServiceMonitor](t, objs)
				if sm.Labels["release"] != "kps" || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != "http" {
					t.Errorf("servicemonitor = %+v", sm)
				}
			},
		},
		{
			name:  "rbac",
			vals:  "rbac: {create: true, kongNamespace: kong-prod}\n",
			kinds: []string{"ConfigMap", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount", "StatefulSet"},
			check: func(t *testing.T, objs []object) {
				role := find[*rbacv1.Role](t, objs)
				rb := find[*rbacv1.RoleBinding](t, objs)
				if role.Namespace != "kong-prod" || rb.Namespace != "kong-prod" || rb.Subjects[0].Name != "drawbridge" || rb.Subjects[0].Namespace != "drawbridge" || rb.RoleRef.Kind != "Role" {
					t.Errorf("role %s/%s, binding %+v", role.Namespace, role.Name, rb)
				}
				for _, r := range role.Rules {
					if slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, "secrets") {
						t.Errorf("rule %+v grants more than the commands need", r)
					}
				}
				sts := find[*appsv1.StatefulSet](t, objs)
				if p := sts.Spec.Template.Spec.AutomountServiceAccountToken; p == nil || !*p {
					t.Errorf("the token kubectl needs is not mounted")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vals map[string]any
			if err := yaml.UnmarshalStrict([]byte(tt.vals), &vals); err != nil {
				t.Fatal(err)
			}
			objs := decode(t, render(t, vals))
			if got := kinds(objs); !slices.Equal(got, tt.kinds) {
				t.Fatalf("renders %v, want %v", got, tt.kinds)
			}
			tt.check(t, objs)
		})
	}
}

// TestManifestsCurrent checks manifests/drawbridge.yaml is the chart rendered with its
// defaults; go test -run TestManifestsCurrent -update rewrites it.
func TestManifestsCurrent(t *testing.T) {
	got := "# drawbridge for people without Helm: deploy/helm/drawbridge rendered with its default\n" +
		"# values (release \"drawbridge\"). Do not edit: cd deploy && go test -run TestManifestsCurrent -update\n" +
		render(t, nil)
	if *update {
		if err := os.WriteFile(manifests, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatalf("%v (go test -run TestManifestsCurrent -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s is not the chart's current rendering: cd deploy && go test -run TestManifestsCurrent -update", manifests)
	}
}
