package main

import "context"

// Placeholders until internal/notify lands.
func notifyReady()                                      {}
func notifyReloading()                                  {}
func notifyStopping()                                   {}
func watchdog(ctx context.Context, healthy func() bool) {}
