package dev.collector.benchmarks;

import dev.collector.CheckpointStore;
import dev.collector.core.Collecting;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import reactor.core.scheduler.Scheduler;

/**
 * One invocation processes {@link Peers#items} items of the scenario's work with the chosen system;
 * {@link BenchMain} turns invocations per second into items per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class PeersBenchmark {

  @Param({"noop-64"})
  public String scenario;

  @Param({"collector-memory"})
  public String system;

  private int items;
  private int depth;
  private IntConsumer work;
  private List<List<Integer>> batches;
  private ExecutorService executor;
  private Scheduler scheduler;
  private Path dir;
  private CheckpointStore store;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    items = Peers.items(scenario);
    depth = Peers.depth(scenario);
    work = Peers.work(scenario);
    batches = Peers.batches(items);
    executor = Peers.virtualThreads();
    scheduler = Peers.virtualThreadScheduler(executor);
    dir = Files.createTempDirectory("collector-bench");
  }

  @Setup(Level.Invocation)
  public void freshStore() throws Exception {
    // each invocation processes the source from its start: a new, empty store
    store = system.equals("collector-file") ? Peers.fileStore(dir) : Collecting.inMemoryStore();
  }

  @TearDown(Level.Invocation)
  public void closeStore() throws Exception {
    store.close();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    scheduler.dispose();
    executor.close();
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
    Files.deleteIfExists(dir);
  }

  @Benchmark
  public long run() throws Exception {
    switch (system) {
      case "raw" -> Peers.raw(items, depth, work);
      case "mapConcurrent" -> Peers.mapConcurrent(items, depth, work);
      case "reactor" -> Peers.reactor(items, depth, work, scheduler);
      case "naive" -> Peers.naive(items, depth, work);
      case "collector-memory", "collector-file" -> Peers.collector(batches, depth, work, store);
      default -> throw new IllegalArgumentException("unknown system " + system);
    }
    return Peers.committed;
  }
}
