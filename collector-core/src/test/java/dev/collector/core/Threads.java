package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Records every thread that runs collector code (handler, fetcher, committer) for G4 checks. */
final class Threads {
  private final Set<Thread> seen = ConcurrentHashMap.newKeySet();

  void record() {
    seen.add(Thread.currentThread());
  }

  Set<Thread> seen() {
    return Set.copyOf(seen);
  }

  /** G4: nothing the collector started may still run. */
  void assertAllEnded() {
    List<String> alive =
        seen.stream().filter(Thread::isAlive).map(t -> t.getName() + " " + t.getState()).toList();
    assertEquals(List.of(), alive, "threads still alive after the call returned");
  }
}
