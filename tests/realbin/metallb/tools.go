//go:build tools

// Package tools pins the MetalLB release the real lab builds (its controller and speaker).
package tools

import (
	_ "go.universe.tf/metallb/controller"
	_ "go.universe.tf/metallb/speaker"
)
