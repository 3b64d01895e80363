package dev.collector.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The Grafana dashboard in docs/, read with a real JSON parser: its queries and variables. */
final class Dashboard {

  static final Path FILE = Path.of("../docs/grafana/collector-dashboard.json");

  /** One query of a panel, with the unit Grafana shows its series in. */
  record Target(String panel, String refId, String expr, String legend, String unit) {
    /** The query as Grafana sends it, with the dashboard's variables replaced. */
    String expand(String collectorRegex, String rateInterval) {
      return expr.replace("$__rate_interval", rateInterval).replace("$collector", collectorRegex);
    }

    @Override
    public String toString() {
      return "'" + panel + "' " + refId;
    }
  }

  /** A templating variable. */
  record Variable(String name, String type, String query) {}

  /** The queries of core's binder: checked here against its scrape. */
  final List<Target> targets = new ArrayList<>();

  /**
   * The queries of the Kafka binder's metrics ({@code collector_kafka_*}): core cannot run a Kafka
   * collector, so only their syntax is checked here; collector-kafka's KafkaDashboardTest checks
   * them against a scrape of its binder on a real broker.
   */
  final List<Target> kafkaTargets = new ArrayList<>();

  final List<Variable> variables = new ArrayList<>();
  final List<String> panelTitles = new ArrayList<>();

  private Dashboard(JsonNode root) {
    for (JsonNode v : root.path("templating").path("list")) {
      variables.add(
          new Variable(
              v.path("name").asText(),
              v.path("type").asText(),
              v.path("query").isTextual()
                  ? v.path("query").asText()
                  : v.path("query").path("query").asText()));
    }
    addPanels(root.path("panels"));
  }

  static Dashboard load() throws IOException {
    return new Dashboard(new ObjectMapper().readTree(FILE.toFile()));
  }

  private void addPanels(JsonNode panels) {
    for (JsonNode panel : panels) {
      addPanels(panel.path("panels")); // rows nest panels
      if (!panel.has("targets")) {
        continue;
      }
      String title = panel.path("title").asText();
      panelTitles.add(title);
      JsonNode fieldConfig = panel.path("fieldConfig");
      for (JsonNode t : panel.path("targets")) {
        String refId = t.path("refId").asText();
        Target target =
            new Target(
                title,
                refId,
                t.path("expr").asText(),
                t.path("legendFormat").asText(),
                unit(fieldConfig, refId));
        (target.expr().contains("collector_kafka_") ? kafkaTargets : targets).add(target);
      }
    }
  }

  /** The unit of a query's series: an override for its refId, else the panel's default. */
  private static String unit(JsonNode fieldConfig, String refId) {
    String unit = fieldConfig.path("defaults").path("unit").asText("");
    for (JsonNode o : fieldConfig.path("overrides")) {
      JsonNode matcher = o.path("matcher");
      if (matcher.path("id").asText().equals("byFrameRefID")
          && matcher.path("options").asText().equals(refId)) {
        for (JsonNode property : o.path("properties")) {
          if (property.path("id").asText().equals("unit")) {
            unit = property.path("value").asText();
          }
        }
      }
    }
    return unit;
  }
}
