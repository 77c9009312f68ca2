package locks

import "context"

// Order is order, for the tests of package locks_test.
func Order(name string, entries []Entry) Queue { return order(name, entries) }

// PurgeKey removes owner's key of lock as the hub does at the end of its
// lease, for the tests.
func (s *Store) PurgeKey(ctx context.Context, lock, owner string) error {
	return s.kv.Purge(ctx, key(lock, owner))
}
