//go:build tools

// Package tools pins the etcd server the real lab builds.
package tools

import _ "go.etcd.io/etcd/server/v3"
