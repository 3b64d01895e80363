package dev.collector.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every metric the Grafana dashboard queries is one the binder registers, by Prometheus name. */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class DashboardTest {

  @Test
  void dashboard_queriesOnlyMetricsTheBinderRegisters() throws Exception {
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Collector<Long> c = Collecting.open(FakeSource.generated(5, 1),
        new RecordingCheckpointStore(), CollectorOptions.builder().name("dash").build());
    new CollectorMetrics(c).bindTo(registry);
    c.process(2, b -> {});
    Collecting.open(FakeSource.generated(1, 1), new RecordingCheckpointStore(),
        CollectorOptions.defaults()); // unbound: must not matter
    String scrape = registry.scrape();
    Set<String> exported = new TreeSet<>();
    Matcher line = Pattern.compile("(?m)^(collector_[a-z_]+)\\{").matcher(scrape);
    while (line.find()) {
      exported.add(line.group(1));
    }
    // the misuse counter appears once a misuse happened; its name follows the same rule
    exported.add("collector_misuse_total");

    String dashboard = Files.readString(Path.of("../docs/grafana/collector-dashboard.json"));
    Set<String> queried = new TreeSet<>();
    Matcher expr = Pattern.compile("\"(?:expr|query)\": \"([^\"]*)\"").matcher(dashboard);
    while (expr.find()) {
      Matcher name = Pattern.compile("collector_[a-z_]+").matcher(expr.group(1));
      while (name.find()) {
        queried.add(name.group());
      }
    }
    assertTrue(queried.size() >= 15, "dashboard queries " + queried);
    Set<String> missing = new TreeSet<>(queried);
    missing.removeAll(exported);
    assertEquals(Set.of(), missing, "dashboard queries metrics nobody exports; exported: "
        + exported);
  }
}
