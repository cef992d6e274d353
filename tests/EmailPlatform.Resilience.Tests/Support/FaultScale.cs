namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// How big the fault runs are. Short by default, which is what CI runs (a few hundred emails, fault windows of a few
/// seconds); <c>EMAILPLATFORM_FAULT_SCALE=full</c> runs several thousand emails through 30-second fault windows.
/// Every scenario runs at both scales with the same assertions.
/// </summary>
internal static class FaultScale
{
    public static bool Full => string.Equals(Environment.GetEnvironmentVariable("EMAILPLATFORM_FAULT_SCALE"), "full", StringComparison.OrdinalIgnoreCase);

    /// <summary>Emails sent during one fault run.</summary>
    public static int Emails => Full ? 5000 : 300;

    /// <summary>The steady rate they are sent at, so the fault hits a run in progress.</summary>
    public static double Rate => Full ? 250 : 40;

    /// <summary>How long the relay fails, the status service is away, ….</summary>
    public static TimeSpan Window => Full ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(6);

    /// <summary>How long every accepted email may take to reach a final state after the last was sent.</summary>
    public static TimeSpan Settle => Full ? TimeSpan.FromMinutes(10) : TimeSpan.FromMinutes(3);

    /// <summary>Generated hostile requests (at least 1,000 in both).</summary>
    public static int HostileRequests => Full ? 5000 : 1200;
}
