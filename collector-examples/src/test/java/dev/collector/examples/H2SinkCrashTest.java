package dev.collector.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.collector.Batch;
import dev.collector.core.Collecting;
import dev.collector.testkit.CrashHarness;
import dev.collector.testkit.FakeSource;
import dev.collector.testkit.Ledger;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a downstream project writes: the published testkit's crash harness against an order sink
 * that writes to a real embedded database (H2, in memory). The idempotent sink (an upsert keyed by
 * order id) survives every crash and replay; the non-idempotent one (a plain INSERT) is caught on
 * the first replayed batch, with a message that says it was a replay.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class H2SinkCrashTest {

  private final String url = "jdbc:h2:mem:orders-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
  private Connection keepAlive;

  @BeforeEach
  void createTable() throws SQLException {
    keepAlive = DriverManager.getConnection(url);
    try (Statement s = keepAlive.createStatement()) {
      s.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)");
    }
  }

  @AfterEach
  void dropDatabase() throws SQLException {
    try (Statement s = keepAlive.createStatement()) {
      s.execute("SHUTDOWN");
    }
    keepAlive.close();
  }

  /** The correct sink: MERGE ... KEY(id) writes each order once however often it is replayed. */
  private void upsert(Batch<Long> batch) throws SQLException {
    write(batch, "MERGE INTO orders (id, amount) KEY (id) VALUES (?, ?)");
  }

  /** The buggy sink: a plain INSERT, which a replayed batch runs into. */
  private void insert(Batch<Long> batch) throws SQLException {
    write(batch, "INSERT INTO orders (id, amount) VALUES (?, ?)");
  }

  private void write(Batch<Long> batch, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url);
        PreparedStatement ps = c.prepareStatement(sql)) {
      c.setAutoCommit(false);
      for (long id : batch.records()) {
        ps.setLong(1, id);
        ps.setLong(2, id * 10);
        ps.addBatch();
      }
      ps.executeBatch();
      c.commit();
    }
  }

  private long count() throws SQLException {
    try (Statement s = keepAlive.createStatement();
        ResultSet r = s.executeQuery("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM orders")) {
      r.next();
      assertEquals(r.getLong(1) * (r.getLong(1) - 1) * 5, r.getLong(2), "amounts");
      return r.getLong(1);
    }
  }

  @Test
  void idempotentSink_survivesCrashesAndReplays() throws Exception {
    Ledger<Long> ledger =
        CrashHarness.over(FakeSource.generated(200, 5), Collecting::open)
            .depth(8)
            .crashes(8)
            .seed(14)
            .run(this::upsert);
    ledger.assertAll();
    assertTrue(ledger.replayed() > 0, ledger.summary());
    assertEquals(1_000, count(), ledger.summary());
  }

  @Test
  void nonIdempotentSink_isCaughtOnItsFirstReplay() {
    var e =
        assertThrows(
            AssertionError.class,
            () ->
                CrashHarness.over(FakeSource.generated(200, 5), Collecting::open)
                    .depth(8)
                    .crashes(8)
                    .seed(14)
                    .run(this::insert));
    assertTrue(
        e.getMessage().contains("a replay") && e.getMessage().contains("seed 14"), e.getMessage());
    Throwable cause = e;
    while (cause.getCause() != null && !(cause instanceof SQLException)) {
      cause = cause.getCause();
    }
    assertTrue(cause.getMessage().contains("primary key violation"), cause.toString());
  }
}
