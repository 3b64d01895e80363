package dev.collector.core;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.collector.AckOrdering;
import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.Delivery;
import dev.collector.FailurePolicy;
import dev.collector.OutOfOrderAckException;
import dev.collector.Retry;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.RecordingCheckpointStore;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every query of the dashboard, evaluated by a real Prometheus that scrapes a
 * PrometheusMeterRegistry fed by running collectors. Runs where a {@code prometheus} binary is
 * found ({@code -Dcollector.prometheus=/path}, else on the PATH; Debian: {@code apt-get install
 * prometheus}), and is skipped otherwise: {@link DashboardTest} checks the same queries without it.
 * Everything listens on 127.0.0.1 only. Writes what each panel returned to
 * target/real-prometheus.md. See docs/observability.md.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RealPrometheusTest {

  private static final Duration WAIT = Duration.ofSeconds(60);

  /** Prometheus's scrape interval in this test. */
  private static final int SCRAPE_SECONDS = 1;

  /**
   * What Grafana puts for $__rate_interval: max($__interval + scrape interval, 4 x scrape
   * interval); for a 1 h range on a ~1000 px wide panel $__interval is about 4 s.
   */
  private static final String RATE_INTERVAL = "5s";

  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();

  static Optional<Path> prometheusBinary() {
    String configured = System.getProperty("collector.prometheus", "");
    if (!configured.isEmpty()) {
      return Optional.of(Path.of(configured)).filter(Files::isExecutable);
    }
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .filter(dir -> !dir.isEmpty())
        .map(dir -> Path.of(dir, "prometheus"))
        .filter(Files::isExecutable)
        .findFirst();
  }

  private static int freeLoopbackPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void everyPanelQuery_returnsDataFromARealPrometheus(@TempDir Path dir) throws Exception {
    Optional<Path> binary = prometheusBinary();
    assumeTrue(binary.isPresent(), "no prometheus binary (-Dcollector.prometheus or PATH)");

    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    HttpServer app =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    app.createContext(
        "/metrics",
        exchange -> {
          byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    app.start();

    // a collector that runs the whole time, with retries and dead letters, and one misuse
    Collector<Long> busy =
        Collecting.open(
            FakeSource.generated(Long.MAX_VALUE, 10).fetchLatency(Duration.ofMillis(1)),
            new RecordingCheckpointStore(),
            CollectorOptions.builder()
                .name("real")
                .failurePolicy(
                    FailurePolicy.retry(Retry.of(2, Duration.ZERO, Duration.ZERO))
                        .thenDeadLetter((batch, cause) -> {}))
                .build());
    new CollectorMetrics(busy).bindTo(registry);
    BackgroundRun run =
        BackgroundRun.start(
            busy,
            16,
            batch -> {
              // simulated work, not ordering: 2 ms, and 50 ms for one batch in 100 (head-of-line)
              LockSupport.parkNanos(
                  TimeUnit.MILLISECONDS.toNanos(batch.sequence() % 100 == 1 ? 50 : 2));
              if (batch.sequence() % 50 == 0) {
                throw new IOException("poison batch " + batch.sequence());
              }
            });
    Collector<Long> strict =
        Collecting.open(
            FakeSource.generated(5, 1),
            new RecordingCheckpointStore(),
            CollectorOptions.builder().name("real-strict").ackOrdering(AckOrdering.STRICT).build());
    new CollectorMetrics(strict).bindTo(registry);

    int port = freeLoopbackPort();
    String base = "http://127.0.0.1:" + port;
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(
        config,
        String.join(
            "\n",
            "global:",
            "  scrape_interval: " + SCRAPE_SECONDS + "s",
            "  evaluation_interval: " + SCRAPE_SECONDS + "s",
            "scrape_configs:",
            "  - job_name: collector-test",
            "    static_configs:",
            "      - targets: ['127.0.0.1:" + app.getAddress().getPort() + "']",
            ""));
    Process prometheus =
        new ProcessBuilder(
                binary.get().toString(),
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("prometheus.log").toFile())
            .start();
    try {
      Dashboard dashboard = Dashboard.load();
      String collectors = "real|real-strict";
      await()
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(200))
          .ignoreExceptions()
          .until(() -> !query(base, "collector_capacity{collector=\"real-strict\"}").isEmpty());
      strict.next(); // a misuse once Prometheus has scraped, so that its rate shows
      Delivery<Long> second = strict.next();
      assertThrows(OutOfOrderAckException.class, second::ack);
      String misuse =
          "rate(collector_misuse_total{collector=\"real-strict\","
              + "kind=\"OutOfOrderAckException\"}["
              + RATE_INTERVAL
              + "]) > 0";
      Map<Dashboard.Target, JsonNode> results = new LinkedHashMap<>();
      await()
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(500))
          .ignoreExceptions()
          .until(
              () -> {
                for (Dashboard.Target t : dashboard.targets) {
                  results.put(t, query(base, t.expand(collectors, RATE_INTERVAL)));
                }
                return results.values().stream().allMatch(r -> !r.isEmpty())
                    && !query(base, misuse).isEmpty();
              });
      JsonNode values =
          get(base
                  + "/api/v1/label/collector/values?match[]="
                  + URLEncoder.encode("collector_capacity", StandardCharsets.UTF_8))
              .path("data");
      List<String> names = new ArrayList<>();
      values.forEach(v -> names.add(v.asText()));

      StringBuilder report =
          new StringBuilder(
              "| panel | query | series | values |\n" + "| --- | --- | --- | --- |\n");
      for (Map.Entry<Dashboard.Target, JsonNode> e : results.entrySet()) {
        List<String> shown = new ArrayList<>();
        for (JsonNode series : e.getValue()) {
          JsonNode metric = series.path("metric");
          shown.add(
              metric.path("collector").asText()
                  + (metric.has("outcome") ? " " + metric.path("outcome").asText() : "")
                  + (metric.has("kind") ? " " + metric.path("kind").asText() : "")
                  + " = "
                  + series.path("value").path(1).asText());
        }
        report
            .append("| ")
            .append(e.getKey().panel())
            .append(" | ")
            .append(e.getKey().refId())
            .append(" | ")
            .append(e.getValue().size())
            .append(" | ")
            .append(String.join("; ", shown))
            .append(" |\n");
      }
      report
          .append("\nTemplating `label_values(collector_capacity, collector)`: ")
          .append(names)
          .append('\n');
      Files.createDirectories(Path.of("target"));
      Files.writeString(Path.of("target", "real-prometheus.md"), report);
      System.out.println(report);
      assertTrue(names.containsAll(List.of("real", "real-strict")), "collector values " + names);
      results.forEach((t, r) -> assertTrue(!r.isEmpty(), t + " returned nothing"));
    } finally {
      prometheus.destroy();
      if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
        prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      app.stop(0);
      busy.close();
      strict.close();
      try {
        run.await(WAIT);
      } catch (Exception cancelledByClose) {
        // close() cancels the endless run; how it ends is not what this test checks
      }
    }
    assertEquals(List.of(), registry.getMeters(), "closing the collectors removed their meters");
  }

  /** The instant-vector result of {@code promql}, or fails on an error answer. */
  private JsonNode query(String base, String promql) throws IOException, InterruptedException {
    JsonNode answer =
        get(base + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    if (!answer.path("status").asText().equals("success")) {
      throw new AssertionError(promql + ": " + answer);
    }
    return answer.path("data").path("result");
  }

  private JsonNode get(String url) throws IOException, InterruptedException {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
    return json.readTree(response.body());
  }
}
