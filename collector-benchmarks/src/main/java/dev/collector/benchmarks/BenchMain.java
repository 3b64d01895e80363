package dev.collector.benchmarks;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.Collecting;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The one benchmark command: every scenario with every peer in one run, then the memory
 * scenario; writes {@code target/bench/peers.json} and {@code target/bench/peers.svg} and
 * prints a table of each system's ratio to Collector. Argument {@code full}: longer, more
 * precise iterations.
 */
public final class BenchMain {

  private static final List<String> ORDERED = List.of("raw", "mapConcurrent", "reactor", "naive",
      "collector-memory");
  private static final Map<String, List<String>> SCENARIOS = new LinkedHashMap<>();

  static {
    SCENARIOS.put("noop-64", ORDERED);
    SCENARIOS.put("sleep1ms-64", ORDERED);
    SCENARIOS.put("sleep1ms-1024", ORDERED);
    SCENARIOS.put("skewed-256", ORDERED);
    SCENARIOS.put("durable-1024", List.of("collector-memory", "collector-file"));
  }

  record Row(String scenario, String system, double opsPerSec, double error) {}

  private BenchMain() {}

  /**
   * Runs the benchmarks.
   *
   * @param args {@code full} for the long run; scenario names to run only those
   * @throws Exception if a benchmark fails
   */
  public static void main(String[] args) throws Exception {
    boolean full = List.of(args).contains("full");
    List<String> only = List.of(args).stream().filter(a -> !a.equals("full")).toList();
    List<Row> rows = new ArrayList<>();
    for (var entry : SCENARIOS.entrySet()) {
      String scenario = entry.getKey();
      if (!only.isEmpty() && !only.contains(scenario)) {
        continue;
      }
      for (String system : entry.getValue()) {
        Options options = new OptionsBuilder()
            .include(PeersBenchmark.class.getName() + ".run")
            .param("scenario", scenario)
            .param("system", system)
            .forks(1)
            .warmupIterations(full ? 3 : 2)
            .warmupTime(TimeValue.seconds(1))
            .measurementIterations(full ? 5 : 3)
            .measurementTime(TimeValue.seconds(full ? 2 : 1))
            .jvmArgsAppend("-Xmx2g")
            .shouldFailOnError(true)
            .build();
        RunResult run = new Runner(options).runSingle();
        Result<?> result = run.getPrimaryResult();
        int items = Peers.items(scenario);
        rows.add(new Row(scenario, system, result.getScore() * items,
            result.getScoreError() * items));
      }
    }
    double bytesPerBatch = retainedBytesPerInFlightBatch(16_384);
    Path out = Path.of("target", "bench");
    Files.createDirectories(out);
    Files.writeString(out.resolve("peers.json"), json(rows, bytesPerBatch));
    Files.writeString(out.resolve("peers.svg"), svg(rows));
    System.out.println(table(rows, bytesPerBatch));
    System.out.println("wrote " + out.resolve("peers.json") + " and " + out.resolve("peers.svg"));
  }

  /** Heap retained per fetched-and-running batch at {@code depth}, payload excluded. */
  static double retainedBytesPerInFlightBatch(int depth) throws Exception {
    var batches = Peers.batches(depth);
    var release = new CountDownLatch(1);
    Collector<Integer> c = Collecting.open(Collecting.listSource(batches),
        Collecting.inMemoryStore(), CollectorOptions.defaults());
    long before = usedHeap();
    Thread owner = Thread.ofPlatform().start(() -> {
      try {
        c.process(depth, b -> release.await());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    while (c.progress().running() < depth) {
      Thread.sleep(10); // polling a benchmark fixture, not ordering a test
    }
    long full = usedHeap();
    release.countDown();
    owner.join();
    c.close();
    return (double) (full - before) / depth;
  }

  private static long usedHeap() throws InterruptedException {
    var memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  private static double collector(List<Row> rows, String scenario) {
    return rows.stream().filter(r -> r.scenario().equals(scenario)
        && r.system().equals("collector-memory")).findFirst().orElseThrow().opsPerSec();
  }

  static String json(List<Row> rows, double bytesPerBatch) {
    StringBuilder sb = new StringBuilder("[\n");
    for (Row r : rows) {
      sb.append(String.format(Locale.ROOT,
          "  {\"scenario\": \"%s\", \"system\": \"%s\", \"opsPerSec\": %.1f, \"error\": %.1f},%n",
          r.scenario(), r.system(), r.opsPerSec(), r.error()));
    }
    sb.append(String.format(Locale.ROOT,
        "  {\"scenario\": \"memory-16384\", \"system\": \"collector-memory\", \"opsPerSec\": 0,"
            + " \"error\": 0, \"retainedBytesPerInFlightBatch\": %.0f}%n]%n", bytesPerBatch));
    return sb.toString();
  }

  static String table(List<Row> rows, double bytesPerBatch) {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
        "%-14s %-17s %14s %12s %14s%n", "scenario", "system", "items/s", "± error",
        "x Collector"));
    for (Row r : rows) {
      sb.append(String.format(Locale.ROOT, "%-14s %-17s %14.0f %12.0f %14.2f%n", r.scenario(),
          r.system(), r.opsPerSec(), r.error(), r.opsPerSec() / collector(rows, r.scenario())));
    }
    sb.append(String.format(Locale.ROOT,
        "memory-16384   collector-memory  %.0f bytes retained per in-flight batch"
            + " (virtual thread included, payload excluded)%n", bytesPerBatch));
    return sb.toString();
  }

  /** A grouped bar chart of each system's throughput relative to Collector, per scenario. */
  static String svg(List<Row> rows) {
    List<String> scenarios = new ArrayList<>(SCENARIOS.keySet());
    List<String> systems = List.of("raw", "mapConcurrent", "reactor", "naive",
        "collector-memory", "collector-file");
    String[] colors = {"#9e9e9e", "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#2f6b2a"};
    int width = 900;
    int height = 420;
    int left = 60;
    int top = 40;
    int plotHeight = 300;
    double max = rows.stream().mapToDouble(r -> r.opsPerSec() / collector(rows, r.scenario()))
        .max().orElse(1);
    max = Math.max(1.2, Math.ceil(max * 4) / 4);
    double groupWidth = (width - left - 20) / (double) scenarios.size();
    double barWidth = groupWidth / (systems.size() + 1);
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
        + " height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">%n", width, height));
    sb.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"14\">Throughput"
        + " relative to Collector (in-memory store), higher is better</text>%n", left));
    for (double tick = 0; tick <= max + 1e-9; tick += 0.25) {
      double y = top + plotHeight - tick / max * plotHeight;
      sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\""
          + " stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n",
          left, width - 20, y, y, tick == 1 ? "#333" : "#ddd", left - 5, y + 4, tick));
    }
    for (int g = 0; g < scenarios.size(); g++) {
      String scenario = scenarios.get(g);
      double x0 = left + g * groupWidth + barWidth / 2;
      for (int s = 0; s < systems.size(); s++) {
        String system = systems.get(s);
        var row = rows.stream().filter(r -> r.scenario().equals(scenario)
            && r.system().equals(system)).findFirst();
        if (row.isEmpty()) {
          continue;
        }
        double ratio = row.get().opsPerSec() / collector(rows, scenario);
        double h = ratio / max * plotHeight;
        sb.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
            + " height=\"%.1f\" fill=\"%s\"><title>%s %s: %.2f</title></rect>%n",
            x0 + s * barWidth, top + plotHeight - h, barWidth - 2, h, colors[s], scenario,
            system, ratio));
      }
      sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
          + "%s</text>%n", left + g * groupWidth + groupWidth / 2, top + plotHeight + 18,
          scenario));
    }
    for (int s = 0; s < systems.size(); s++) {
      sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\""
          + " fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>%n", left + s * 130,
          top + plotHeight + 35, colors[s], left + s * 130 + 16, top + plotHeight + 45,
          systems.get(s)));
    }
    return sb.append("</svg>\n").toString();
  }
}
