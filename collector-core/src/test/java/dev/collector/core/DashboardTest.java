package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.PromQl.Aggregation;
import dev.collector.core.PromQl.Binary;
import dev.collector.core.PromQl.Call;
import dev.collector.core.PromQl.Expr;
import dev.collector.core.PromQl.Negation;
import dev.collector.core.PromQl.NumberLiteral;
import dev.collector.core.PromQl.Selector;
import dev.collector.core.PromQl.StringLiteral;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Grafana dashboard, read as JSON, every query and the templating query parsed as PromQL and
 * checked against what the binder really exports on a PrometheusMeterRegistry: metric names, label
 * names, metric types (rate only of counters, quantiles only of buckets), the unit of each series,
 * the labels each legend shows. Needs nothing installed; {@code RealPrometheusTest} runs the same
 * queries on a real Prometheus where one is installed.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class DashboardTest {

  /** Labels Prometheus adds to every scraped series. */
  private static final Set<String> TARGET_LABELS = Set.of("instance", "job");

  private static Map<String, Sample> exported = Map.of();
  private static Dashboard dashboard;

  /** One exported series name: the type of its family and its label names. */
  record Sample(String name, String family, String type, Set<String> labels) {
    boolean counterLike() {
      return type.equals("counter")
          || name.endsWith("_bucket")
          || name.endsWith("_sum")
          || name.endsWith("_count");
    }

    boolean seconds() {
      return family.endsWith("_seconds") || family.endsWith("_seconds_max");
    }
  }

  @BeforeAll
  static void scrapeTheBinder() throws Exception {
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c =
        Collecting.open(
            FakeSource.generated(5, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("dash").build());
    new CollectorMetrics(c).bindTo(registry);
    c.process(2, b -> {});
    Collecting.open(
        FakeSource.generated(1, 1),
        new RecordingCheckpointStore(),
        CollectorOptions.defaults()); // unbound: must not matter
    exported = parseExposition(registry.scrape());
    c.close();
    dashboard = Dashboard.load();
  }

  /** Series names, label names and family types from the Prometheus text format. */
  static Map<String, Sample> parseExposition(String scrape) {
    Map<String, String> types = new HashMap<>();
    Matcher type = Pattern.compile("(?m)^# TYPE (\\S+) (\\S+)$").matcher(scrape);
    while (type.find()) {
      types.put(type.group(1), type.group(2));
    }
    Map<String, Sample> out = new HashMap<>();
    Matcher sample =
        Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? \\S+$").matcher(scrape);
    while (sample.find()) {
      String name = sample.group(1);
      String family = name;
      if (!types.containsKey(family)) {
        family = name.replaceAll("_(total|bucket|sum|count|created)$", "");
      }
      Set<String> labels = new TreeSet<>();
      if (sample.group(2) != null) {
        Matcher label =
            Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"")
                .matcher(sample.group(2));
        while (label.find()) {
          labels.add(label.group(1));
        }
      }
      Sample previous = out.get(name);
      if (previous != null) {
        labels.addAll(previous.labels());
      }
      out.put(name, new Sample(name, family, types.getOrDefault(family, "untyped"), labels));
    }
    return out;
  }

  // ---- point 8: every expression parsed, every metric and label checked ----------------------

  @Test
  void everyQuery_parses_andUsesOnlyExportedMetricsLabelsAndTypes() {
    assertTrue(dashboard.targets.size() >= 19, "targets: " + dashboard.targets);
    List<String> problems = new ArrayList<>();
    Set<String> queried = new TreeSet<>();
    for (Dashboard.Target t : dashboard.targets) {
      problems.addAll(check(t.toString(), t.expr(), exported));
      try {
        PromQl.selectors(PromQl.parse(t.expr())).forEach(s -> queried.add(s.metric()));
      } catch (PromQl.ParseException e) {
        // reported by check
      }
    }
    assertEquals(List.of(), problems);
    // the ratio queries' denominators are checked too (the old regex stopped before them)
    assertTrue(
        queried.containsAll(
            Set.of(
                "collector_commit_duration_seconds_count",
                "collector_fetch_duration_seconds_count",
                "collector_handler_duration_seconds_count")),
        "queried: " + queried);
  }

  @Test
  void kafkaQueries_parse_andUseOnlyKafkaBinderMetrics() {
    assertTrue(
        dashboard.kafkaTargets.size() >= 1, "the Kafka lag panel: " + dashboard.kafkaTargets);
    List<String> problems = new ArrayList<>();
    for (Dashboard.Target t : dashboard.kafkaTargets) {
      try {
        for (Selector s : PromQl.selectors(PromQl.parse(t.expr()))) {
          if (!s.metric().startsWith("collector_kafka_")) {
            problems.add(t + ": mixes " + s.metric() + " into a Kafka query");
          }
        }
      } catch (PromQl.ParseException e) {
        problems.add(t + ": " + e.getMessage());
      }
    }
    assertEquals(List.of(), problems);
  }

  @Test
  void everyTemplatingVariable_isChecked() {
    List<String> problems = new ArrayList<>();
    Pattern labelValues = Pattern.compile("label_values\\((.+),\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\)");
    for (Dashboard.Variable v : dashboard.variables) {
      switch (v.type()) {
        case "datasource" -> {
          if (!v.query().equals("prometheus")) {
            problems.add(v.name() + ": data source type " + v.query());
          }
        }
        case "query" -> {
          Matcher m = labelValues.matcher(v.query().strip());
          if (!m.matches()) {
            problems.add(v.name() + ": not label_values(selector, label): " + v.query());
            continue;
          }
          String where = "variable " + v.name();
          problems.addAll(check(where, m.group(1), exported));
          try {
            for (Selector s : PromQl.selectors(PromQl.parse(m.group(1)))) {
              Sample sample = exported.get(s.metric());
              if (sample != null && !sample.labels().contains(m.group(2))) {
                problems.add(where + ": " + s.metric() + " has no label " + m.group(2));
              }
            }
          } catch (PromQl.ParseException e) {
            // reported by check
          }
        }
        default -> problems.add(v.name() + ": unchecked variable type " + v.type());
      }
    }
    assertTrue(dashboard.variables.stream().anyMatch(v -> v.type().equals("query")));
    assertEquals(List.of(), problems);
  }

  @Test
  void theCheck_findsWhatTheOldRegexMissed_andRejectsBadPromQl() {
    // an unknown metric behind an escaped quote: the old test stopped reading at the quote
    assertFinds(
        "rate(collector_commit_duration_seconds_sum{collector=~\"$c\"}"
            + "[$__rate_interval]) / rate(collector_nope_count{collector=~\"$c\"}"
            + "[$__rate_interval])",
        "collector_nope_count is not exported");
    assertFinds("collector_capacity{colector=\"x\"}", "has no label colector");
    assertFinds("rate(collector_capacity[$__rate_interval])", "rate() of collector_capacity");
    assertFinds(
        "histogram_quantile(0.99, sum by (collector) (rate("
            + "collector_handler_duration_seconds_bucket[$__rate_interval])))",
        "histogram_quantile needs _bucket series with le");
    assertFinds("sum by (outcome) (collector_capacity)", "sum by outcome");
    assertFinds("collector_capacity / collector_misuse_total", "nothing would match");
    for (String bad :
        List.of(
            "rate(collector_commits_total)",
            "sum(collector_capacity",
            "collector_capacity{collector=\"x}",
            "rated(collector_commits_total[1m])",
            "sum by (collector) collector_capacity",
            "collector_capacity[1m] / 2",
            "histogram_quantile(collector_capacity, 0.99)",
            "collector_capacity{collector~\"x\"}",
            "collector_capacity[1x]",
            "{collector=\"x\"}",
            "sum(collector_capacity) by",
            "collector_capacity +")) {
      assertThrows(PromQl.ParseException.class, () -> PromQl.parse(bad), bad);
    }
  }

  private static void assertFinds(String expr, String problem) {
    List<String> problems = check("t", expr, exported);
    assertTrue(problems.stream().anyMatch(p -> p.contains(problem)), expr + ": " + problems);
  }

  /** Problems of one expression: syntax, unknown metrics and labels, ill-typed functions. */
  static List<String> check(String where, String expr, Map<String, Sample> exported) {
    List<String> problems = new ArrayList<>();
    Expr e;
    try {
      e = PromQl.parse(expr);
    } catch (PromQl.ParseException x) {
      return List.of(where + ": " + x.getMessage());
    }
    checkNode(where, e, exported, problems);
    return problems;
  }

  private static void checkNode(
      String where, Expr e, Map<String, Sample> exported, List<String> problems) {
    switch (e) {
      case Selector s -> {
        Sample sample = exported.get(s.metric());
        if (sample == null) {
          problems.add(where + ": " + s.metric() + " is not exported");
          return;
        }
        for (PromQl.LabelMatcher m : s.matchers()) {
          if (!sample.labels().contains(m.label()) && !TARGET_LABELS.contains(m.label())) {
            problems.add(where + ": " + s.metric() + " has no label " + m.label());
          }
        }
      }
      case Call c -> {
        c.args().forEach(a -> checkNode(where, a, exported, problems));
        if (Set.of("rate", "irate", "increase", "resets").contains(c.function())
            && c.args().get(0) instanceof Selector s
            && exported.containsKey(s.metric())
            && !exported.get(s.metric()).counterLike()) {
          problems.add(
              where
                  + ": "
                  + c.function()
                  + "() of "
                  + s.metric()
                  + ", a "
                  + exported.get(s.metric()).type());
        }
        if (c.function().equals("histogram_quantile")) {
          Set<String> labels = labels(c.args().get(1), exported);
          boolean buckets =
              PromQl.selectors(c.args().get(1)).stream()
                  .allMatch(s -> s.metric().endsWith("_bucket"));
          if (!labels.contains("le") || !buckets) {
            problems.add(
                where + ": histogram_quantile needs _bucket series with le, has " + labels);
          }
        }
      }
      case Aggregation a -> {
        a.args().forEach(x -> checkNode(where, x, exported, problems));
        Set<String> available = labels(a.operand(), exported);
        for (String label : a.labels()) {
          if (!available.contains(label)) {
            problems.add(
                where
                    + ": "
                    + a.op()
                    + " "
                    + a.grouping()
                    + " "
                    + label
                    + ", which its operand does not have: "
                    + available);
          }
        }
      }
      case Binary b -> {
        checkNode(where, b.lhs(), exported, problems);
        checkNode(where, b.rhs(), exported, problems);
        if (b.lhs().type() == PromQl.Type.VECTOR
            && b.rhs().type() == PromQl.Type.VECTOR
            && b.matching().isEmpty()
            && !labels(b.lhs(), exported).equals(labels(b.rhs(), exported))) {
          problems.add(
              where
                  + ": the sides of '"
                  + b.op()
                  + "' have different labels, "
                  + labels(b.lhs(), exported)
                  + " and "
                  + labels(b.rhs(), exported)
                  + ": nothing would match");
        }
      }
      case Negation n -> checkNode(where, n.operand(), exported, problems);
      case NumberLiteral n -> {}
      case StringLiteral s -> {}
    }
  }

  /** The label names of the series {@code e} returns, as Prometheus computes them. */
  static Set<String> labels(Expr e, Map<String, Sample> exported) {
    return switch (e) {
      case Selector s -> {
        Set<String> out = new TreeSet<>(TARGET_LABELS);
        Sample sample = exported.get(s.metric());
        if (sample != null) {
          out.addAll(sample.labels());
        }
        yield out;
      }
      case Call c -> {
        Set<String> out = new TreeSet<>();
        c.args().stream()
            .filter(a -> a.type() == PromQl.Type.VECTOR || a.type() == PromQl.Type.MATRIX)
            .findFirst()
            .ifPresent(a -> out.addAll(labels(a, exported)));
        if (c.function().equals("histogram_quantile")) {
          out.remove("le");
        }
        yield out;
      }
      case Aggregation a -> {
        Set<String> out = new TreeSet<>();
        if (a.grouping().equals("by")) {
          out.addAll(a.labels());
        } else if (a.grouping().equals("without")) {
          out.addAll(labels(a.operand(), exported));
          a.labels().forEach(out::remove);
        }
        yield out;
      }
      case Binary b -> {
        if (b.lhs().type() != PromQl.Type.VECTOR) {
          yield labels(b.rhs(), exported);
        }
        Set<String> out = new TreeSet<>(labels(b.lhs(), exported));
        if (b.matching().equals("on") && b.group().isEmpty()) {
          out.retainAll(b.matchingLabels());
        } else if (b.matching().equals("ignoring")) {
          b.matchingLabels().forEach(out::remove);
        }
        yield out;
      }
      case Negation n -> labels(n.operand(), exported);
      case NumberLiteral n -> Set.of();
      case StringLiteral s -> Set.of();
    };
  }

  // ---- point 4: rate windows follow the scrape interval --------------------------------------

  @Test
  void everyRangeIsGrafanasRateInterval() {
    List<String> hardCoded = new ArrayList<>();
    for (Dashboard.Target t : dashboard.targets) {
      for (Selector s : PromQl.selectors(PromQl.parse(t.expr()))) {
        if (!s.range().isEmpty() && !s.range().equals("$__rate_interval")) {
          hardCoded.add(t + ": " + s.metric() + "[" + s.range() + "]");
        }
      }
    }
    assertEquals(
        List.of(),
        hardCoded,
        "a fixed window returns nothing when it holds fewer than two scrapes");
  }

  // ---- point 5: each series has its unit; legends say which instance ------------------------

  /** Grafana unit ids by what a query measures. */
  enum Unit {
    COUNT("short"),
    PER_SECOND("ops"),
    SECONDS("s"),
    /** seconds per second, or any other ratio: a fraction */
    RATIO("percentunit");

    final String grafana;

    Unit(String grafana) {
      this.grafana = grafana;
    }
  }

  /** What {@code e} measures, from its metrics' names and types and the functions applied. */
  static Unit unit(Expr e, Map<String, Sample> exported) {
    return switch (e) {
      case Selector s -> {
        Sample sample = exported.get(s.metric());
        if (sample == null) {
          throw new AssertionError("not exported: " + s.metric());
        }
        yield sample.seconds() && !s.metric().endsWith("_count") ? Unit.SECONDS : Unit.COUNT;
      }
      case Call c ->
          switch (c.function()) {
            case "rate", "irate" ->
                unit(c.args().get(0), exported) == Unit.SECONDS ? Unit.RATIO : Unit.PER_SECOND;
            case "histogram_quantile" ->
                PromQl.selectors(c.args().get(1)).stream()
                        .allMatch(s -> exported.get(s.metric()).seconds())
                    ? Unit.SECONDS
                    : Unit.COUNT;
            default -> unit(c.args().get(0), exported);
          };
      case Aggregation a -> a.op().startsWith("count") ? Unit.COUNT : unit(a.operand(), exported);
      case Binary b -> {
        if (b.lhs().type() == PromQl.Type.SCALAR) {
          yield unit(b.rhs(), exported);
        }
        if (b.rhs().type() == PromQl.Type.SCALAR) {
          yield unit(b.lhs(), exported);
        }
        Unit l = unit(b.lhs(), exported);
        Unit r = unit(b.rhs(), exported);
        yield switch (b.op()) {
          case "/" ->
              l == Unit.RATIO && r == Unit.PER_SECOND
                  ? Unit.SECONDS // sum / count
                  : l == r ? Unit.RATIO : failUnit(b, l, r);
          case "+", "-", "and", "or", "unless" -> l == r ? l : failUnit(b, l, r);
          default -> failUnit(b, l, r);
        };
      }
      case Negation n -> unit(n.operand(), exported);
      case NumberLiteral n -> Unit.COUNT;
      case StringLiteral s -> Unit.COUNT;
    };
  }

  private static Unit failUnit(Binary b, Unit l, Unit r) {
    throw new AssertionError("no unit rule for " + l + " " + b.op() + " " + r);
  }

  @Test
  void everySeries_isShownInTheUnitOfWhatItMeasures() {
    List<String> wrong = new ArrayList<>();
    for (Dashboard.Target t : dashboard.targets) {
      Unit unit = unit(PromQl.parse(t.expr()), exported);
      if (!t.unit().equals(unit.grafana)) {
        wrong.add(
            t + " measures " + unit + " (" + unit.grafana + ") but is shown in '" + t.unit() + "'");
      }
    }
    assertEquals(List.of(), wrong);
  }

  @Test
  void everyLegend_namesCollectorAndInstance_fromLabelsTheQueryKeeps() {
    Pattern placeholder = Pattern.compile("\\{\\{\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*}}");
    List<String> wrong = new ArrayList<>();
    for (Dashboard.Target t : dashboard.targets) {
      Set<String> kept = labels(PromQl.parse(t.expr()), exported);
      Set<String> shown = new LinkedHashSet<>();
      Matcher m = placeholder.matcher(t.legend());
      while (m.find()) {
        shown.add(m.group(1));
      }
      if (!shown.containsAll(Set.of("collector", "instance"))) {
        wrong.add(t + ": legend '" + t.legend() + "' does not say which collector and instance");
      }
      if (!kept.containsAll(shown)) {
        wrong.add(
            t + ": legend '" + t.legend() + "' shows labels the query drops; it keeps " + kept);
      }
    }
    assertEquals(List.of(), wrong);
  }

  // ---- point 6: p99 latency from histogram buckets -------------------------------------------

  @Test
  void p99OfHandlerAndCommitLatency_isOnTheDashboard() {
    Set<String> p99Of = new TreeSet<>();
    for (Dashboard.Target t : dashboard.targets) {
      if (PromQl.parse(t.expr()) instanceof Call c
          && c.function().equals("histogram_quantile")
          && c.args().get(0) instanceof NumberLiteral q
          && q.value() == 0.99) {
        PromQl.selectors(c).forEach(s -> p99Of.add(s.metric()));
      }
    }
    if (!p99Of.containsAll(
        Set.of(
            "collector_handler_duration_seconds_bucket",
            "collector_commit_duration_seconds_bucket"))) {
      fail("p99 panels only for " + p99Of);
    }
  }
}
