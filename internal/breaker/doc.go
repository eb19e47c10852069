// Package breaker is the circuit breaker cacheops puts in front of Redis:
// one per cache for the read path, and one per Redis Cluster node for
// invalidations, so that a node that keeps failing costs no call a timeout
// and holds back no invalidation bound for the nodes that answer.
package breaker
