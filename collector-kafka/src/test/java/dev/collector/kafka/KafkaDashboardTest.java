package dev.collector.kafka;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The dashboard's Kafka queries ({@code collector_kafka_*}, the lag panel) against a real
 * Prometheus scrape of {@link KafkaCollectorMetrics} on a real broker: every metric exists, every
 * label it matches, groups by or shows in a legend exists, gauges are not rated and are shown as
 * counts. collector-core's DashboardTest parses the same queries with its strict PromQL parser (it
 * cannot run a Kafka collector); here they are read with a pattern for selectors and {@code by
 * (...)} groupings, which is all the lag panel's queries use. Also: the collector-level meters the
 * Kafka binder shares with core's binder are exported under the names the core panels and the
 * {@code collector} variable query.
 */
@ExtendWith(SharedBroker.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // the binder is opened for its effect on the registry
class KafkaDashboardTest {

  private static final Path DASHBOARD = Path.of("../docs/grafana/collector-dashboard.json");
  private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
  private static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)}");
  private static final Pattern MATCHER =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)\\s*\"");
  private static final Pattern GROUPING = Pattern.compile("\\b(by|without)\\s*\\(([^)]*)\\)");
  private static final Pattern LEGEND = Pattern.compile("\\{\\{\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\s*}}");

  record Target(String panel, String refId, String expr, String legend, String unit) {}

  @Test
  void kafkaPanels_matchARealScrapeOfTheKafkaBinder(Broker broker) throws Exception {
    Map<String, Set<String>> exported = scrape(broker);
    List<Target> kafka = new ArrayList<>();
    Set<String> allMetrics = new TreeSet<>();
    for (Target t : targets()) {
      Matcher m = SELECTOR.matcher(t.expr());
      while (m.find()) {
        allMetrics.add(m.group(1));
      }
      if (t.expr().contains("collector_kafka_")) {
        kafka.add(t);
      }
    }
    assertTrue(
        kafka.stream()
            .anyMatch(
                t ->
                    t.expr().contains("collector_kafka_partition_lag")
                        && t.expr().contains("sum by")),
        "a lag panel summed by topic: " + kafka);
    assertTrue(
        kafka.stream().anyMatch(t -> t.expr().startsWith("collector_kafka_partition_lag")),
        "a lag panel per partition: " + kafka);
    List<String> problems = new ArrayList<>();
    for (Target t : kafka) {
      problems.addAll(check(t, exported, types));
    }
    assertEquals(List.of(), problems);

    // the core panels that also show Kafka collectors, and the collector variable
    Set<String> shared =
        Set.of(
            "collector_capacity",
            "collector_in_flight",
            "collector_waiting",
            "collector_batches_acknowledged_total",
            "collector_records_total",
            "collector_batches_dead_lettered_total",
            "collector_commits_total");
    assertTrue(allMetrics.containsAll(shared), "the dashboard queries " + allMetrics);
    for (String metric : shared) {
      assertTrue(exported.containsKey(metric), metric + " is not exported: " + exported.keySet());
      assertTrue(exported.get(metric).contains("collector"), metric);
    }
  }

  /** Problems of one Kafka query. */
  static List<String> check(
      Target t, Map<String, Set<String>> exported, Map<String, String> types) {
    List<String> problems = new ArrayList<>();
    Set<String> kept = new TreeSet<>(TARGET_LABELS);
    Matcher s = SELECTOR.matcher(t.expr());
    while (s.find()) {
      String metric = s.group(1);
      Set<String> labels = exported.get(metric);
      if (labels == null) {
        problems.add(t.panel() + " " + t.refId() + ": " + metric + " is not exported");
        continue;
      }
      kept.addAll(labels);
      Matcher m = MATCHER.matcher(s.group(2));
      while (m.find()) {
        if (!labels.contains(m.group(1)) && !TARGET_LABELS.contains(m.group(1))) {
          problems.add(t.panel() + " " + t.refId() + ": " + metric + " has no label " + m.group(1));
        }
      }
      if (!"gauge".equals(types.get(metric))) {
        problems.add(t.panel() + " " + t.refId() + ": " + metric + " is a " + types.get(metric));
      }
    }
    if (t.expr().matches(".*\\b(rate|irate|increase)\\(.*")) {
      problems.add(t.panel() + " " + t.refId() + ": rate of a gauge");
    }
    Matcher g = GROUPING.matcher(t.expr());
    if (g.find()) {
      Set<String> by = new TreeSet<>();
      for (String label : g.group(2).split(",")) {
        by.add(label.strip());
      }
      if (!kept.containsAll(by)) {
        problems.add(t.panel() + " " + t.refId() + ": groups by " + by + ", has " + kept);
      }
      if (g.group(1).equals("by")) {
        kept.retainAll(by);
      } else {
        kept.removeAll(by);
      }
    }
    Matcher l = LEGEND.matcher(t.legend());
    Set<String> shown = new TreeSet<>();
    while (l.find()) {
      shown.add(l.group(1));
    }
    if (!shown.containsAll(Set.of("collector", "instance")) || !kept.containsAll(shown)) {
      problems.add(
          t.panel()
              + " "
              + t.refId()
              + ": legend "
              + t.legend()
              + " shows "
              + shown
              + ", the query keeps "
              + kept);
    }
    if (!t.unit().equals("short")) {
      problems.add(t.panel() + " " + t.refId() + ": a count shown in " + t.unit());
    }
    return problems;
  }

  private static Map<String, String> types = Map.of();

  /** Series name to label names, from a scrape while a run owns two partitions. */
  private static Map<String, Set<String>> scrape(Broker broker) throws Exception {
    String topic = Kit.unique("dashboard");
    Kit.createTopic(broker, topic, 2);
    long total = Kit.produce(broker, topic, 40, i -> "k" + i);
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    var options = KafkaCollectorOptions.builder().name("dash").topics(topic).build();
    ExecutorService runs = Executors.newVirtualThreadPerTaskExecutor();
    try (var c =
            Kit.open(
                Kit.consumerConfig(broker.bootstrap(), Kit.unique("g"), "classic"),
                options,
                Committer.CommitObserver.NONE);
        var metrics = KafkaCollectorMetrics.bind(c, registry)) {
      Future<?> run = runs.submit(() -> c.process(8, batch -> {}));
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  c.progress().partitions().size() == 2
                      && c.progress().partitions().stream().allMatch(p -> p.lag() == 0)
                      && registry.get("collector.records").functionCounter().count() == total);
      String text = registry.scrape();
      c.stop();
      run.get(30, TimeUnit.SECONDS);
      Map<String, String> familyTypes = new HashMap<>();
      Matcher type = Pattern.compile("(?m)^# TYPE (\\S+) (\\S+)$").matcher(text);
      while (type.find()) {
        familyTypes.put(type.group(1), type.group(2));
      }
      Map<String, Set<String>> out = new HashMap<>();
      Map<String, String> seriesTypes = new HashMap<>();
      Matcher sample =
          Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? \\S+$").matcher(text);
      while (sample.find()) {
        Set<String> labels = out.computeIfAbsent(sample.group(1), k -> new TreeSet<>());
        if (sample.group(2) != null) {
          Matcher label =
              Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"(?:[^\"\\\\]|\\\\.)*\"")
                  .matcher(sample.group(2));
          while (label.find()) {
            labels.add(label.group(1));
          }
        }
        String family =
            familyTypes.containsKey(sample.group(1))
                ? sample.group(1)
                : sample.group(1).replaceAll("_(total|bucket|sum|count|created)$", "");
        seriesTypes.put(sample.group(1), familyTypes.getOrDefault(family, "untyped"));
      }
      types = seriesTypes;
      return out;
    } finally {
      runs.shutdownNow();
    }
  }

  private static List<Target> targets() throws Exception {
    JsonNode root = new ObjectMapper().readTree(DASHBOARD.toFile());
    List<Target> out = new ArrayList<>();
    for (JsonNode panel : root.path("panels")) {
      String unit = panel.path("fieldConfig").path("defaults").path("unit").asText("");
      for (JsonNode t : panel.path("targets")) {
        out.add(
            new Target(
                panel.path("title").asText(),
                t.path("refId").asText(),
                t.path("expr").asText(),
                t.path("legendFormat").asText(),
                unit));
      }
    }
    return out;
  }
}
