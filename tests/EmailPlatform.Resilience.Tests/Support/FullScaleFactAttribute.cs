namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// A scenario that runs only at <c>EMAILPLATFORM_FAULT_SCALE=full</c>, with the reason it is out of the short (CI)
/// version stated where the test is declared.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FullScaleFactAttribute : FactAttribute
{
    public FullScaleFactAttribute(string whyNotInTheShortVersion)
    {
        if (!FaultScale.Full)
        {
            Skip = $"Full scale only (EMAILPLATFORM_FAULT_SCALE=full): {whyNotInTheShortVersion}";
        }
    }
}
