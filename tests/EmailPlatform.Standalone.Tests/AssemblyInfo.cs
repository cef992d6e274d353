// One standalone host at a time: ActivitySource listeners are process-wide, so a trace test's in-memory exporter would
// also see the spans of another test's host running beside it.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
