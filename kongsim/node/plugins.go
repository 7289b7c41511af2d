package node

import (
	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
)

// customPriority and customVersion are what kongsim gives a custom plugin's handler (kongsim
// does not simulate the plugin itself, only that it is installed).
const (
	customPriority = 1000
	customVersion  = "0.1.0"
)

// plugin is a loaded plugin with its handler's priority and version.
type plugin struct {
	name     string
	priority int
	version  string
}

// loadedPlugins resolves the plugins setting for the node's version (conf_loader's
// loaded_plugins), with each plugin's priority: bundled ones as the version ships them,
// custom ones installed in the prefix with kongsim's defaults. kong start refuses a loaded
// plugin that is not installed, so a running node has none.
func (n *node) loadedPlugins() []plugin {
	bundled := map[string]int{}
	for _, p := range facts.Default().Bundled(n.cfg.Version) {
		bundled[p.Name] = p.Priority
	}
	var out []plugin
	for _, name := range kconf.LoadedPlugins(n.cfg.Conf.Get("plugins"), n.cfg.Version) {
		if prio, ok := bundled[name]; ok {
			out = append(out, plugin{name: name, priority: prio, version: n.cfg.Version.String()})
			continue
		}
		out = append(out, plugin{name: name, priority: customPriority, version: customVersion})
	}
	return out
}

// availableOnServer is GET /'s plugins.available_on_server: {name: {version, priority}}
// from 3.0 (bundled plugins carry Kong's version), {name: true} before.
func (n *node) availableOnServer() map[string]any {
	out := map[string]any{}
	for _, p := range n.loadedPlugins() {
		if n.cfg.Version.Major < 3 {
			out[p.name] = true
			continue
		}
		out[p.name] = map[string]any{"version": p.version, "priority": p.priority}
	}
	return out
}

// pluginLoaded reports whether the node loads plugin name.
func (n *node) pluginLoaded(name string) bool {
	for _, p := range n.loadedPlugins() {
		if p.name == name {
			return true
		}
	}
	return false
}
