namespace EmailPlatform.Testing;

/// <summary>
/// Where the real infrastructure is. <c>./build.sh test</c> starts it and sets these variables; the defaults
/// match what it starts, so a developer who ran <c>./build.sh infra-up</c> can run <c>dotnet test</c> directly.
/// A test that needs a server fails when the server is not there: it never skips silently.
/// </summary>
public static class TestInfrastructure
{
    public static string PostgresAdmin =>
        Environment.GetEnvironmentVariable("EMAILPLATFORM_TEST_POSTGRES")
        ?? "Host=127.0.0.1;Port=5432;Username=emailplatform;Password=emailplatform;Database=postgres";

    public static Uri RabbitMq =>
        new(Environment.GetEnvironmentVariable("EMAILPLATFORM_TEST_RABBITMQ") ?? "amqp://guest:guest@127.0.0.1:5672/");

    /// <summary>Postfix's <c>smtp-sink</c>, as <c>host:port</c>.</summary>
    public static (string Host, int Port) SmtpSink
    {
        get
        {
            var value = Environment.GetEnvironmentVariable("EMAILPLATFORM_TEST_SMTP_SINK") ?? "127.0.0.1:2526";
            var colon = value.LastIndexOf(':');
            return (value[..colon], int.Parse(value[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A random key of the length the services require, made per test: no secret lives in the repo.</summary>
    public static string NewApiKey() => "test_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
}
