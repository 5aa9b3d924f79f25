#if canImport(Glibc)
    import Glibc
#endif

/// A value behind a POSIX mutex. Unlike the standard library's `Mutex` (a futex driven by
/// atomics in the uninstrumented runtime), ThreadSanitizer sees this lock's acquire and release,
/// so state it guards that several threads touch is not reported as a race.
final class PthreadLocked<Value>: @unchecked Sendable {  // every access to `value` holds `mutex`
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
