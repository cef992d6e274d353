namespace EmailPlatform.Ingress.Sending;

/// <summary>The limits a send is checked against, taken from <see cref="IngressOptions"/> at the time of the request.</summary>
internal sealed record SendLimits(int MaxRecipients, TimeSpan MaxScheduleAhead, TimeSpan MaxExpiresAhead, DateTimeOffset Now)
{
    public static SendLimits From(IngressOptions options, TimeProvider clock) =>
        new(options.MaxRecipients, options.MaxScheduleAhead, options.MaxExpiresAhead, clock.GetUtcNow());
}
