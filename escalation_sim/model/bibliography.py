"""One bibliography for every citation key used by strategies, parameters and docs."""

from __future__ import annotations

REFERENCES: dict[str, str] = {
    "achen_snidal_1989": "Achen, C. H., & Snidal, D. (1989). Rational deterrence theory and comparative case studies. World Politics 41(2), 143-169.",
    "axelrod_1984": "Axelrod, R. (1984). The Evolution of Cooperation. New York: Basic Books.",
    "blankenship_2020": "Blankenship, B. Public statements of support to allies, International Studies Quarterly (as cited in the Poast thread, shared/seeds; full reference not checked here).",
    "fearon_1994": "Fearon, J. D. (1994). Domestic political audiences and the escalation of international disputes. American Political Science Review 88(3), 577-592.",
    "fearon_2002": "Fearon, J. D. (2002). Selection effects and deterrence. International Interactions 28(1), 5-29.",
    "fearon_1997": "Fearon, J. D. (1997). Signaling foreign policy interests: tying hands versus sinking costs. Journal of Conflict Resolution 41(1), 68-90.",
    "george_1983": "George, A. L. (1983). Managing U.S.-Soviet Rivalry: Problems of Crisis Prevention. Boulder: Westview.",
    "george_farley_dallin_1988": "George, A. L., Farley, P. J., & Dallin, A., eds. (1988). U.S.-Soviet Security Cooperation. New York: Oxford University Press.",
    "george_smoke_1974": "George, A. L., & Smoke, R. (1974). Deterrence in American Foreign Policy. New York: Columbia University Press.",
    "jervis_1976": "Jervis, R. (1976). Perception and Misperception in International Politics. Princeton University Press.",
    "jervis_1982": "Jervis, R. (1982). Security regimes. International Organization 36(2), 357-378.",
    "keohane_1986": "Keohane, R. O. (1986). Reciprocity in international relations. International Organization 40(1), 1-27.",
    "lanoszka_2018": "Yarhi-Milo, K., Lanoszka, A., & Cooper, Z. Military cooperation agreements and aid as alternatives to alliances, International Security (as cited in the Poast thread; full reference not checked here).",
    "larson_1987": "Larson, D. W. (1987). Crisis prevention and the Austrian State Treaty. International Organization 41(1), 27-60.",
    "lebow_stein_1990": "Lebow, R. N., & Stein, J. G. (1990). When Does Deterrence Succeed and How Do We Know? CIIPS Occasional Paper No. 8 (seed text in shared/seeds).",
    "mattes_2012": "Mattes, M. (2012). Reputation, symmetry, and alliance design. International Organization 66(4), 679-707.",
    "newcombe_1998": "Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions: comparison of eleven methods. Statistics in Medicine 17(8), 873-890.",
    "molander_1985": "Molander, P. (1985). The optimal level of generosity in a selfish, uncertain environment. Journal of Conflict Resolution 29(4), 611-618.",
    "morgan_1977": "Morgan, P. M. (1977). Deterrence: A Conceptual Analysis. Beverly Hills: Sage.",
    "musgrave_ward_2018": "Musgrave, P., & Ward, S. Public support for responding to attacks on US troops, Monkey Cage (as cited in the Poast thread; full reference not checked here).",
    "nowak_sigmund_1992": "Nowak, M. A., & Sigmund, K. (1992). Tit for tat in heterogeneous populations. Nature 355, 250-253.",
    "osgood_1962": "Osgood, C. E. (1962). An Alternative to War or Surrender. Urbana: University of Illinois Press.",
    "poast_2021": "Poast, P. (2021). Thread on reassuring allies (seed text in shared/seeds), surveying Kissinger, Schelling, Snyder and recent work.",
    "schelling_1966": "Schelling, T. C. (1966). Arms and Influence. New Haven: Yale University Press; and (1963) Deterrence: military diplomacy in the nuclear age, Virginia Quarterly Review 39(4).",
    "stein_1991": "Stein, J. G. (1991). Deterrence and reassurance. In Tetlock et al., eds., Behavior, Society, and Nuclear War, vol. 2. Oxford University Press.",
    "yarhi_milo_mcmanus_2016": "Yarhi-Milo, K., & McManus, R. W. Private statements of support, International Organization (as cited in the Poast thread; full reference not checked here).",
}
