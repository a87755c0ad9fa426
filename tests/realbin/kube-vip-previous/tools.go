//go:build tools

// Package tools pins the previous kube-vip release the real lab builds.
package tools

import _ "github.com/kube-vip/kube-vip"
