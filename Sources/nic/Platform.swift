#if canImport(Glibc)
    import Glibc
    let stderrStream = Glibc.stderr
#endif
