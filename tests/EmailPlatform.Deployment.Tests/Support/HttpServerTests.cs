namespace EmailPlatform.Deployment.Tests;

/// <summary>
/// Test classes that start a web host and serve requests: run one at a time, because a test that reads the spans its
/// tracer provider exported (<c>SpanRedactionTests</c>) also sees the HTTP spans of another host running meanwhile.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HttpServerTests
{
    public const string Name = "HTTP server tests";
}
