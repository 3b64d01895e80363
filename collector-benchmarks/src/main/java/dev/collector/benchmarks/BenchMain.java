package dev.collector.benchmarks;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The one benchmark command: every scenario with every peer in one run (JMH with its GC profiler),
 * then the memory probes ({@link MemoryProbe}); writes {@code target/bench/peers.json}, {@code
 * peers.svg} and {@code peers.md} (the README's table) and prints the table with each system's
 * ratio to Collector and the project's targets. Argument {@code full}: 3 forks of 5 measured
 * iterations (15 samples per row instead of 3), so that errors fall below 10 % of the scores;
 * scenario names: run only those.
 *
 * <p>Errors are JMH's: the half-width of the 99.9 % confidence interval over all measurement
 * iterations of all forks. A ratio's error combines its two scores' relative errors in quadrature.
 */
public final class BenchMain {

  private static final List<String> ORDERED =
      List.of("raw", "mapConcurrent", "reactor", "naive", "collector-memory");
  private static final Map<String, List<String>> SCENARIOS = new LinkedHashMap<>();

  /** Memory probes run at this depth. */
  private static final int MEMORY_DEPTH = 65_536;

  /** A row whose error is at least this fraction of its score is marked. */
  private static final double NOISY = 0.10;

  static {
    SCENARIOS.put("noop-64", ORDERED);
    SCENARIOS.put("sleep1ms-64", ORDERED);
    SCENARIOS.put("sleep1ms-1024", ORDERED);
    SCENARIOS.put("skewed-256", ORDERED);
    SCENARIOS.put("durable-1024", List.of("collector-memory", "collector-file"));
  }

  /**
   * One system in one scenario.
   *
   * @param opsPerSec items per second
   * @param error its 99.9 % confidence half-width
   * @param allocPerItem bytes allocated per item (= per batch: one record per batch), all threads
   * @param allocError its 99.9 % confidence half-width
   */
  record Row(
      String scenario,
      String system,
      double opsPerSec,
      double error,
      double allocPerItem,
      double allocError) {

    boolean noisy() {
      return error >= NOISY * opsPerSec;
    }
  }

  /** A ratio with its uncertainty. */
  record Ratio(double value, double error) {
    static Ratio of(Row a, Row b) {
      double v = a.opsPerSec() / b.opsPerSec();
      double ra = a.error() / a.opsPerSec();
      double rb = b.error() / b.opsPerSec();
      return new Ratio(v, v * Math.sqrt(ra * ra + rb * rb));
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%.2f ± %.2f", value, error);
    }
  }

  /** A target: {@code system / peer >= min} in {@code scenario}. */
  record Target(String scenario, String system, String peer, double min) {
    String describe() {
      return String.format(Locale.ROOT, "%s: %s ≥ %.2f× %s", scenario, system, min, peer);
    }
  }

  private static final List<Target> TARGETS =
      List.of(
          new Target("noop-64", "collector-memory", "mapConcurrent", 1.0),
          new Target("sleep1ms-64", "collector-memory", "raw", 0.97),
          new Target("sleep1ms-1024", "collector-memory", "mapConcurrent", 1.0),
          new Target("sleep1ms-1024", "collector-memory", "raw", 0.8),
          new Target("skewed-256", "collector-memory", "mapConcurrent", 1.0),
          new Target("skewed-256", "collector-memory", "reactor", 1.0),
          new Target("skewed-256", "collector-memory", "naive", 1.0),
          new Target("durable-1024", "collector-file", "collector-memory", 0.5));

  /** Heap retained per finished waiting batch, at most (bytes). */
  private static final double WAITING_TARGET = 150;

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
    double loadBefore = loadAverage();
    Instant started = Instant.now();
    List<Row> rows = new ArrayList<>();
    for (var entry : SCENARIOS.entrySet()) {
      String scenario = entry.getKey();
      if (!only.isEmpty() && !only.contains(scenario)) {
        continue;
      }
      for (String system : entry.getValue()) {
        Options options =
            new OptionsBuilder()
                .include(PeersBenchmark.class.getName() + ".run")
                .param("scenario", scenario)
                .param("system", system)
                .forks(full ? 3 : 1)
                .warmupIterations(full ? 3 : 2)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(full ? 5 : 3)
                .measurementTime(TimeValue.seconds(1))
                .addProfiler(GCProfiler.class)
                .jvmArgsAppend("-Xmx2g")
                .shouldFailOnError(true)
                .build();
        RunResult run = new Runner(options).runSingle();
        Result<?> result = run.getPrimaryResult();
        Result<?> alloc = run.getSecondaryResults().get("gc.alloc.rate.norm");
        int items = Peers.items(scenario);
        rows.add(
            new Row(
                scenario,
                system,
                result.getScore() * items,
                result.getScoreError() * items,
                alloc == null ? Double.NaN : alloc.getScore() / items,
                alloc == null ? Double.NaN : alloc.getScoreError() / items));
      }
    }
    MemoryProbe.Result memory = MemoryProbe.measure(MEMORY_DEPTH, 5);
    double loadAfter = loadAverage();
    String machine = machine();
    String when =
        started.truncatedTo(ChronoUnit.SECONDS)
            + " to "
            + Instant.now().truncatedTo(ChronoUnit.SECONDS);
    String mode =
        full
            ? "full (3 forks × 5 × 1 s, warm-up 3 × 1 s)"
            : "quick (1 fork × 3 × 1 s, warm-up 2 × 1 s)";
    Path out = Path.of("target", "bench");
    Files.createDirectories(out);
    Files.writeString(
        out.resolve("peers.json"), json(rows, memory, machine, mode, when, loadBefore, loadAfter));
    Files.writeString(out.resolve("peers.svg"), svg(rows));
    Files.writeString(
        out.resolve("peers.md"),
        markdown(rows, memory, machine, mode, when, loadBefore, loadAfter));
    System.out.println(table(rows, memory));
    System.out.printf(
        Locale.ROOT,
        "%s; %s; %s; 1-min load average %.2f before, %.2f after%n",
        machine,
        mode,
        when,
        loadBefore,
        loadAfter);
    System.out.println("wrote " + out.resolve("peers.json") + ", peers.svg and peers.md");
  }

  private static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  private static String machine() {
    String cpu = "unknown CPU";
    try {
      cpu =
          Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
              .filter(l -> l.startsWith("model name"))
              .findFirst()
              .map(l -> l.substring(l.indexOf(':') + 1).trim())
              .orElse(cpu);
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux: keep "unknown CPU"
    }
    return String.format(
        Locale.ROOT,
        "%d CPUs (%s), %s %s (%s)",
        Runtime.getRuntime().availableProcessors(),
        cpu,
        System.getProperty("java.vm.vendor"),
        System.getProperty("java.runtime.version"),
        System.getProperty("java.vm.name"));
  }

  private static Optional<Row> row(List<Row> rows, String scenario, String system) {
    return rows.stream()
        .filter(r -> r.scenario().equals(scenario) && r.system().equals(system))
        .findFirst();
  }

  private static Row collector(List<Row> rows, String scenario) {
    return row(rows, scenario, "collector-memory").orElseThrow();
  }

  /** "met", "not met", each with "(within error)" when the interval contains the target. */
  static String verdict(Ratio r, double min) {
    String v = r.value() >= min ? "met" : "not met";
    return Math.abs(r.value() - min) <= r.error() ? v + " (within error)" : v;
  }

  static List<String> targets(List<Row> rows, MemoryProbe.Result memory) {
    List<String> lines = new ArrayList<>();
    for (Target t : TARGETS) {
      var a = row(rows, t.scenario(), t.system());
      var b = row(rows, t.scenario(), t.peer());
      if (a.isEmpty() || b.isEmpty()) {
        continue;
      }
      Ratio r = Ratio.of(a.get(), b.get());
      lines.add(String.format(Locale.ROOT, "%s — %s: %s", t.describe(), verdict(r, t.min()), r));
    }
    lines.add(
        String.format(
            Locale.ROOT,
            "heap per finished waiting batch ≤ %.0f B — %s: %.0f B"
                + " (%.0f B beyond its ring slot + %.0f B ring slot)",
            WAITING_TARGET,
            memory.waitingAllIn() <= WAITING_TARGET ? "met" : "not met",
            memory.waitingAllIn(),
            memory.waiting(),
            memory.ringSlot()));
    return lines;
  }

  static String json(
      List<Row> rows,
      MemoryProbe.Result m,
      String machine,
      String mode,
      String when,
      double loadBefore,
      double loadAfter) {
    StringBuilder sb = new StringBuilder("{\n");
    sb.append(
        String.format(
            Locale.ROOT,
            "  \"machine\": \"%s\",%n  \"mode\": \"%s\",%n"
                + "  \"when\": \"%s\",%n  \"loadAverageBefore\": %.2f,%n  \"loadAverageAfter\": %.2f,%n"
                + "  \"errors\": \"99.9%% confidence half-widths (JMH)\",%n  \"rows\": [%n",
            machine,
            mode,
            when,
            loadBefore,
            loadAfter));
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      sb.append(
          String.format(
              Locale.ROOT,
              "    {\"scenario\": \"%s\", \"system\": \"%s\", \"opsPerSec\": %.1f, \"error\": %.1f,"
                  + " \"allocBytesPerBatch\": %.1f, \"allocError\": %.1f}%s%n",
              r.scenario(),
              r.system(),
              r.opsPerSec(),
              r.error(),
              r.allocPerItem(),
              r.allocError(),
              i < rows.size() - 1 ? "," : ""));
    }
    sb.append("  ],\n  \"memory\": ");
    sb.append(
        String.format(
            Locale.ROOT,
            "{\"depth\": %d, \"ringSlotBytes\": %.1f,"
                + " \"waitingBeyondSlotBytes\": %.1f, \"waitingBatchBytes\": %.1f,"
                + " \"runningBatchBytes\": %.1f, \"bareVirtualThreadBytes\": %.1f,"
                + " \"runningCollectorShareBytes\": %.1f},%n",
            m.depth(),
            m.ringSlot(),
            m.waiting(),
            m.waitingAllIn(),
            m.running(),
            m.bareThread(),
            m.collectorShare()));
    sb.append("  \"targets\": [\n");
    List<String> targets = targets(rows, m);
    for (int i = 0; i < targets.size(); i++) {
      sb.append("    \"")
          .append(targets.get(i))
          .append('"')
          .append(i < targets.size() - 1 ? ",\n" : "\n");
    }
    return sb.append("  ]\n}\n").toString();
  }

  static String table(List<Row> rows, MemoryProbe.Result m) {
    StringBuilder sb =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "%-14s %-17s %12s %10s %6s %14s %16s%n",
                "scenario",
                "system",
                "items/s",
                "± error",
                "err%",
                "x Collector",
                "B alloc/batch"));
    for (Row r : rows) {
      sb.append(
          String.format(
              Locale.ROOT,
              "%-14s %-17s %12.0f %10.0f %5.1f%% %14s %10.0f ± %.0f%s%n",
              r.scenario(),
              r.system(),
              r.opsPerSec(),
              r.error(),
              100 * r.error() / r.opsPerSec(),
              r.system().equals("collector-memory")
                  ? "1"
                  : Ratio.of(r, collector(rows, r.scenario())).toString(),
              r.allocPerItem(),
              r.allocError(),
              r.noisy() ? "  <- error >= 10% of score" : ""));
    }
    sb.append(memoryLines(m));
    sb.append("targets:\n");
    for (String t : targets(rows, m)) {
      sb.append("  ").append(t).append('\n');
    }
    return sb.toString();
  }

  static String memoryLines(MemoryProbe.Result m) {
    return String.format(
        Locale.ROOT,
        "memory, depth %d, records and tokens excluded:%n"
            + "  finished batch waiting for an earlier one: %.0f B (ring slot %.0f B + %.0f B"
            + " beyond it)%n"
            + "  running (parked) batch: %.0f B = collector %.0f B + virtual thread %.0f B"
            + " (a bare virtual thread parked in the same latch.await())%n",
        m.depth(),
        m.waitingAllIn(),
        m.ringSlot(),
        m.waiting(),
        m.running(),
        m.collectorShare(),
        m.bareThread());
  }

  private static final List<String> COLUMNS =
      List.of("raw", "mapConcurrent", "reactor", "naive", "collector-memory", "collector-file");

  /** The README table: items/s ± error (ratio to Collector), then allocation per batch. */
  static String markdown(
      List<Row> rows,
      MemoryProbe.Result m,
      String machine,
      String mode,
      String when,
      double loadBefore,
      double loadAfter) {
    StringBuilder sb =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "%s; %s; %s (UTC); 1-min load average %.2f before, %.2f after.%n%n",
                machine,
                mode,
                when,
                loadBefore,
                loadAfter));
    sb.append(
        "Items per second ± 99.9 % error (ratio to Collector ± error); ⚠ = error ≥ 10 %"
            + " of the score:\n\n| scenario | raw | mapConcurrent | Reactor | naive |"
            + " Collector (memory) | Collector (file) |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (String scenario : SCENARIOS.keySet()) {
      if (row(rows, scenario, "collector-memory").isEmpty()) {
        continue;
      }
      sb.append("| ").append(scenario);
      for (String system : COLUMNS) {
        sb.append(" | ");
        var r = row(rows, scenario, system);
        if (r.isEmpty()) {
          continue;
        }
        Row x = r.get();
        sb.append(String.format(Locale.ROOT, "%s ± %s", group(x.opsPerSec()), group(x.error())));
        if (!system.equals("collector-memory")) {
          sb.append(" (").append(Ratio.of(x, collector(rows, scenario))).append("×)");
        }
        if (x.noisy()) {
          sb.append(" ⚠");
        }
      }
      sb.append(" |\n");
    }
    sb.append(
        "\nBytes allocated per batch (JMH `-prof gc`, `gc.alloc.rate.norm` ÷ items per"
            + " invocation; all threads):\n\n| scenario | raw | mapConcurrent | Reactor | naive |"
            + " Collector (memory) | Collector (file) |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (String scenario : SCENARIOS.keySet()) {
      if (row(rows, scenario, "collector-memory").isEmpty()) {
        continue;
      }
      sb.append("| ").append(scenario);
      for (String system : COLUMNS) {
        sb.append(" | ");
        row(rows, scenario, system)
            .ifPresent(
                x ->
                    sb.append(
                        String.format(
                            Locale.ROOT, "%.0f ± %.0f", x.allocPerItem(), x.allocError())));
      }
      sb.append(" |\n");
    }
    sb.append("\n```\n").append(memoryLines(m)).append("```\n\nTargets:\n\n");
    for (String t : targets(rows, m)) {
      sb.append("- ").append(t).append('\n');
    }
    return sb.toString();
  }

  /** 1234567 → "1 234 567". */
  private static String group(double value) {
    String digits = String.format(Locale.ROOT, "%.0f", value);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < digits.length(); i++) {
      if (i > 0 && (digits.length() - i) % 3 == 0) {
        sb.append(' ');
      }
      sb.append(digits.charAt(i));
    }
    return sb.toString();
  }

  /**
   * A grouped bar chart of each system's throughput relative to Collector, per scenario, with the
   * ratio's error as a whisker.
   */
  static String svg(List<Row> rows) {
    List<String> scenarios = new ArrayList<>(SCENARIOS.keySet());
    String[] colors = {"#9e9e9e", "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#2f6b2a"};
    int width = 900;
    int height = 420;
    int left = 60;
    int top = 40;
    int plotHeight = 300;
    double max =
        rows.stream()
            .mapToDouble(
                r -> {
                  Ratio x = Ratio.of(r, collector(rows, r.scenario()));
                  return x.value() + x.error();
                })
            .max()
            .orElse(1);
    max = Math.max(1.2, Math.ceil(max * 4) / 4);
    double groupWidth = (width - left - 20) / (double) scenarios.size();
    double barWidth = groupWidth / (COLUMNS.size() + 1);
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
                + " height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">%n",
            width,
            height));
    sb.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    sb.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"20\" font-size=\"14\">Throughput"
                + " relative to Collector (in-memory store), higher is better; whiskers: 99.9 %%"
                + " error</text>%n",
            left));
    double step = max > 3 ? 0.5 : 0.25;
    for (double tick = 0; tick <= max + 1e-9; tick += step) {
      double y = top + plotHeight - tick / max * plotHeight;
      sb.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\""
                  + " stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>%n",
              left,
              width - 20,
              y,
              y,
              tick == 1 ? "#333" : "#ddd",
              left - 5,
              y + 4,
              tick));
    }
    for (int g = 0; g < scenarios.size(); g++) {
      String scenario = scenarios.get(g);
      if (row(rows, scenario, "collector-memory").isEmpty()) {
        continue;
      }
      double x0 = left + g * groupWidth + barWidth / 2;
      for (int s = 0; s < COLUMNS.size(); s++) {
        String system = COLUMNS.get(s);
        var row = row(rows, scenario, system);
        if (row.isEmpty()) {
          continue;
        }
        Ratio ratio = Ratio.of(row.get(), collector(rows, scenario));
        double h = ratio.value() / max * plotHeight;
        double x = x0 + s * barWidth;
        sb.append(
            String.format(
                Locale.ROOT,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
                    + " height=\"%.1f\" fill=\"%s\"><title>%s %s: %s</title></rect>%n",
                x,
                top + plotHeight - h,
                barWidth - 2,
                h,
                colors[s],
                scenario,
                system,
                ratio));
        if (!system.equals("collector-memory")) {
          double lo = Math.max(0, ratio.value() - ratio.error()) / max * plotHeight;
          double hi = Math.min(max, ratio.value() + ratio.error()) / max * plotHeight;
          double cx = x + (barWidth - 2) / 2;
          sb.append(
              String.format(
                  Locale.ROOT,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\"" + " y2=\"%.1f\" stroke=\"black\"/>%n",
                  cx,
                  cx,
                  top + plotHeight - lo,
                  top + plotHeight - hi));
        }
      }
      sb.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">" + "%s</text>%n",
              left + g * groupWidth + groupWidth / 2,
              top + plotHeight + 18,
              scenario));
    }
    for (int s = 0; s < COLUMNS.size(); s++) {
      sb.append(
          String.format(
              Locale.ROOT,
              "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\""
                  + " fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>%n",
              left + s * 130,
              top + plotHeight + 35,
              colors[s],
              left + s * 130 + 16,
              top + plotHeight + 45,
              COLUMNS.get(s)));
    }
    return sb.append("</svg>\n").toString();
  }
}
