import org.jspecify.annotations.NullMarked;

/**
 * Test support for handlers and sources built on Collector: fake sources, a recording checkpoint
 * store and a completion controller that scripts the order in which batches finish.
 */
@NullMarked
module dev.collector.testkit {
  requires transitive dev.collector.api;
  requires static org.jspecify;
  requires static com.google.errorprone.annotations;
  // CollectorLeakCheck only: JUnit is optional for users of the rest of the testkit
  requires static transitive org.junit.jupiter.api;
  requires java.management;
  requires jdk.management;

  exports dev.collector.testkit;
}
