// Package deploy holds the checks of drawbridge's deployment files: the Helm chart in
// helm/drawbridge, the plain manifests rendered from it in manifests/, and the lab's compose
// file in lab/. It is a module of its own so that Helm's and Kubernetes' packages, which the
// checks need, never reach drawbridge's binary.
package deploy
