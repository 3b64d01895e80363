package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.BatchSource;
import dev.collector.Checkpoint;
import dev.collector.CheckpointStore;
import dev.collector.Collector;
import dev.collector.CollectorListener;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.HandlerContext;
import dev.collector.ProcessSummary;
import dev.collector.Registration;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's quick-start examples, compiled and run. Each region between {@code // tag::x[]} and
 * {@code // end::x[]} must appear verbatim (minus indentation) in README.md.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ReadmeExamplesTest {

  /** Stands in for wherever the records go. */
  static final class Sink {
    final ConcurrentLinkedQueue<String> written = new ConcurrentLinkedQueue<>();

    void write(List<String> records) {
      written.addAll(records);
    }
  }

  private final Sink sink = new Sink();

  @Test
  void processExample() throws Exception {
    // tag::process[]
    var source = Collecting.listSource(List.of(List.of("a", "b"), List.of("c"), List.of("d")));
    CheckpointStore store = Collecting.inMemoryStore();
    try (Collector<String> collector =
        Collecting.open(source, store, CollectorOptions.builder().name("orders").build())) {
      ProcessSummary summary = collector.process(64, batch -> sink.write(batch.records()));
      System.out.println(summary.batches() + " batches, checkpoint " + summary.checkpoint());
    }
    // end::process[]
    assertEquals(new Checkpoint(3, "3"), store.load());
    assertEquals(4, sink.written.size());
  }

  @Test
  void pullExample() throws Exception {
    var source = Collecting.listSource(List.of(List.of("a", "b"), List.of("c")));
    CheckpointStore store = Collecting.inMemoryStore();
    // tag::pull[]
    try (Collector<String> collector =
        Collecting.open(source, store, CollectorOptions.builder().depth(16).build())) {
      while (true) {
        try (Delivery<String> d = collector.next()) { // closing an unsettled delivery fails it
          if (d == null) {
            break; // the source is exhausted
          }
          sink.write(d.batch().records());
          d.ack();
        }
      }
      Checkpoint committed = collector.awaitCommitted(); // durable once this returns
      System.out.println("committed " + committed);
    }
    // end::pull[]
    assertEquals(new Checkpoint(2, "2"), store.load());
  }

  @Test
  void listenerExample() throws Exception {
    var source = Collecting.listSource(List.of(List.of("a", "b"), List.of("c")));
    try (Collector<String> collector =
        Collecting.open(source, Collecting.inMemoryStore(), CollectorOptions.defaults())) {
      // tag::listener[]
      AtomicLong slowest = new AtomicLong();
      Registration registration =
          collector.listen(
              new CollectorListener() {
                @Override
                public void handled(long sequence, int records, long nanos, Outcome outcome) {
                  slowest.accumulateAndGet(
                      nanos, Math::max); // on the handler's thread: keep it short
                }
              });
      collector.process(64, batch -> sink.write(batch.records()));
      registration.close(); // no event reaches the listener after this returned
      // end::listener[]
      assertTrue(slowest.get() > 0);
    }
  }

  /** Stands in for SLF4J's MDC: a per-thread map of diagnostic context. */
  static final class MDC {
    private static final ThreadLocal<java.util.Map<String, String>> CONTEXT =
        ThreadLocal.withInitial(java.util.HashMap::new);

    static void put(String key, String value) {
      CONTEXT.get().put(key, value);
    }

    static @Nullable String get(String key) {
      return CONTEXT.get().get(key);
    }

    static void remove(String key) {
      CONTEXT.get().remove(key);
    }
  }

  @Test
  void handlerContextExample() throws Exception {
    var source = Collecting.listSource(List.of(List.of("a", "b"), List.of("c")));
    List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    // tag::handlerContext[]
    HandlerContext mdc =
        (batch, attempt) -> {
          MDC.put("batch", Long.toString(batch.sequence()));
          try {
            attempt.run(); // runs the handler, once; let what it throws propagate
          } finally {
            MDC.remove("batch");
          }
        };
    var options = CollectorOptions.builder().name("orders").handlerContext(mdc).build();
    // end::handlerContext[]
    try (Collector<String> collector =
        Collecting.open(source, Collecting.inMemoryStore(), options)) {
      collector.process(4, batch -> logged.add("batch " + MDC.get("batch")));
    }
    assertEquals(List.of("batch 0", "batch 1"), logged.stream().sorted().toList());
  }

  /** A sink that must stay correct under replay: it keys what it stores by record id. */
  static final class IdempotentSink {
    final java.util.Set<Long> stored = java.util.concurrent.ConcurrentHashMap.newKeySet();

    void upsert(List<Long> records) {
      stored.addAll(records);
    }
  }

  // tag::testing[]
  @Test
  void mySink_survivesCrashesReplayAndOutOfOrderCompletion() throws Exception {
    var sink = new IdempotentSink();
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(500, 10), Collecting::open)
            .depth(16)
            .crashes(10)
            .seed(42)
            .run(batch -> sink.upsert(batch.records()));
    ledger.assertAll(); // every record handled, commits in order, replay <= depth, end reached
    assertEquals(5_000, sink.stored.size()); // replays did not duplicate anything
  }

  // end::testing[]

  /** A source of the user's own: lines in batches of 10, resumable at a line offset. */
  record MyLineSource(List<String> lines) implements BatchSource<String> {
    @Override
    public SourceReader<String> open(String token) {
      var next =
          new java.util.concurrent.atomic.AtomicInteger(
              token.isEmpty() ? 0 : Integer.parseInt(token));
      return new SourceReader<>() {
        @Override
        public @Nullable SourceBatch<String> next() {
          int from = next.get();
          if (from >= lines.size()) {
            return null;
          }
          int to = next.updateAndGet(n -> Math.min(n + 10, lines.size()));
          return new SourceBatch<>(lines.subList(from, to), Integer.toString(to));
        }

        @Override
        public void close() {}
      };
    }
  }

  // tag::source[]
  @Test
  void mySource_resumesWhereItsTokensSay() throws Exception {
    List<String> lines = IntStream.range(0, 1_000).mapToObj(i -> "line " + i).toList();
    Ledger<String> ledger =
        CrashHarness.over(new MyLineSource(lines), Collecting::open)
            .expecting(lines) // what the source must yield, each record at least once
            .depth(8)
            .crashes(10)
            .seed(7)
            .run(batch -> {});
    ledger.assertAll(); // + nothing unexpected, replayed batches identical
  }

  // end::source[]

  @Test
  void readme_containsEveryTaggedExampleVerbatim() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    String test =
        Files.readString(Path.of("src/test/java/dev/collector/core/ReadmeExamplesTest.java"));
    Matcher m =
        Pattern.compile("// tag::(\\w+)\\[\\]\\n(.*?)\\n\\s*// end::\\1\\[\\]", Pattern.DOTALL)
            .matcher(test);
    int found = 0;
    while (m.find()) {
      found++;
      String snippet = m.group(2).stripIndent().strip();
      assertTrue(
          readme.contains(snippet), "README.md lacks example '" + m.group(1) + "':\n" + snippet);
    }
    assertEquals(6, found);
  }
}
