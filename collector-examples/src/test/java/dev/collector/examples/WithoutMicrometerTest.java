package dev.collector.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.collector.Collector;
import dev.collector.CollectorOptions;
import dev.collector.core.Collecting;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Micrometer is optional at run time: this module depends on collector-core only, whose
 * micrometer-core dependency is optional, so these tests run without it on the class path.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class WithoutMicrometerTest {

  @Test
  void collector_runsWithMicrometerAbsent() throws Exception {
    assertThrows(
        ClassNotFoundException.class,
        () -> Class.forName("io.micrometer.core.instrument.MeterRegistry"));
    try (Collector<String> c =
        Collecting.open(
            Collecting.listSource(List.of(List.of("a"), List.of("b", "c"))),
            Collecting.inMemoryStore(),
            CollectorOptions.defaults())) {
      assertEquals(3, c.process(4, batch -> {}).records());
    }
  }
}
