package dev.collector.examples;

/** Placeholder replaced below. */
final class Demo {
  private Demo() {}

  public static void main(String[] args) {}
}
