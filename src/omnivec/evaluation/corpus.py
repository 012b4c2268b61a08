"""The hand-written texts behind the retrieval suite: one caption per scikit-image photo (written
by looking at each image), everyday sentences to speak and render, encyclopedia-style paragraphs
with the question a user would type to find each, and one spoken line plus a paraphrase per
video. Everything here is data; :mod:`omnivec.evaluation.dataset` turns it into media. Changing
any text means bumping ``SUITE_VERSION`` there, so cached media are rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Passage:
    """A paragraph for the PDF tasks and the question that should retrieve it."""

    topic: str  # short label for reports
    question: str  # what a user would type; shares ideas, not sentences, with the text
    text: str  # 60-120 words


@dataclass(frozen=True, slots=True)
class VideoScript:
    """A photo shown for the whole clip while a voice says ``line``."""

    photo: str  # scikit-image sample name
    line: str  # spoken; short enough to fit in six seconds
    paraphrase: str  # a text query with the same meaning in other words


# scikit-image sample name -> what the picture shows, in plain words.
CAPTIONS: dict[str, str] = {
    "chelsea": "a close-up of a tabby cat with green eyes",
    "coffee": "a cup of coffee on a red saucer with a spoon",
    "rocket": "a rocket standing on its launch pad at dusk",
    "astronaut": "a smiling astronaut in an orange space suit next to an American flag",
    "camera": "a man with a camera on a tripod in a field",
    "horse": "a black silhouette of a horse on a white background",
    "hubble_deep_field": "thousands of distant galaxies in deep space",
    "immunohistochemistry": "a microscope image of brown stained tissue cells",
    "moon": "the gray cratered surface of the moon",
    "page": "a page of printed text from a book",
    "text": "handwritten math equations on lined paper",
    "brick": "a gray brick wall",
    "grass": "a patch of grass seen from above",
    "gravel": "a close-up of small gravel stones",
    "cell": "a single round cell under a microscope",
    "colorwheel": "a color wheel with every hue of the rainbow",
    "retina": "a photograph of the retina of an eye with red blood vessels",
    "logo": "a logo of a snake in a green and orange circle",
    "clock": "a blurry photograph of a wall clock",
    "coins": "rows of old coins on a black background",
    "microaneurysms": "a close-up of tiny blood vessels in the eye",
    "checkerboard": "a black and white checkerboard pattern",
}

# Everyday and factual sentences, 8-20 words, one topic each.
SENTENCES: tuple[str, ...] = (
    "The train to Boston leaves from platform four at half past seven every morning.",
    "Bees tell each other where to find flowers by dancing inside the hive.",
    "Please remember to water the tomato plants before you leave for the weekend.",
    "The Pacific Ocean covers more area than all of the land on Earth combined.",
    "My grandmother bakes fresh bread every Sunday and shares it with the neighbors.",
    "Regular exercise and a balanced diet help lower the risk of heart disease.",
    "The library will be closed on Monday because of the national holiday.",
    "Mount Everest is the highest mountain above sea level, rising almost nine thousand meters.",
    "He forgot his umbrella at the office and walked home in the pouring rain.",
    "Chess players must plan several moves ahead to trap the opposing king.",
    "The new bridge across the river cut the daily commute in half.",
    "Penguins cannot fly, but they are excellent swimmers in cold water.",
    "Our flight was delayed for three hours because of a snowstorm in Chicago.",
    "Copper conducts electricity well and is used in most household wiring.",
    "The children built a sandcastle with tall towers and a moat at the beach.",
    "Always back up your important files before installing a major software update.",
    "The orchestra rehearsed the symphony for weeks before the opening night concert.",
    "Volcanoes form where molten rock from deep inside the planet reaches the surface.",
    "She paid for the groceries with cash and kept the receipt in her wallet.",
    "The museum displays dinosaur skeletons that are more than sixty million years old.",
    "A breakfast of oatmeal and fresh fruit keeps me full until lunch.",
    "The referee blew the final whistle and the football match ended in a draw.",
    "Light from the sun takes about eight minutes to reach the Earth.",
    "The farmer harvested the wheat before the heavy autumn rains arrived.",
    "Our neighbor's dog barks loudly every time the mail carrier walks by.",
    "The company announced record profits and plans to hire two hundred new workers.",
    "Wash your hands with soap and warm water for at least twenty seconds.",
    "The ancient Romans built aqueducts to carry fresh water into their cities.",
    "I need to renew my passport before our trip to Japan next spring.",
    "The painter mixed blue and yellow paint to create a bright shade of green.",
    "A sudden power outage left the whole neighborhood in darkness for hours.",
    "Elephants can recognize themselves in a mirror and appear to mourn their dead.",
    "The bakery on the corner sells the best croissants in town.",
    "Students must submit their research essays by Friday at noon.",
    "The lighthouse guided the fishing boats safely back to the harbor through the fog.",
    "Strong winds knocked down several trees and blocked the main road into town.",
    "Drinking enough water is especially important during hot summer days.",
    "The detective examined the muddy footprints outside the broken window.",
    "Our team finally fixed the bug that crashed the app on older phones.",
    "The price of gasoline rose sharply after the largest refinery shut down.",
    "Hummingbirds beat their wings more than fifty times every second.",
    "The wedding reception took place in a garden full of blooming roses.",
    "Astronauts on the space station see sixteen sunrises every day.",
    "The recipe calls for two cups of flour, three eggs, and a pinch of salt.",
    "The city council voted to build a new public swimming pool next year.",
    "My laptop battery dies after only two hours, so I carry a charger everywhere.",
    "The river flooded the whole valley after a week of constant rain.",
    "Tigers are the largest members of the cat family and hunt mostly at night.",
    "The teacher asked the class to read the first three chapters of the novel.",
    "Solar panels on the roof now supply most of the electricity for our house.",
    "The marathon runners crossed the finish line exhausted but smiling.",
    "A small earthquake shook the town early this morning, but nobody was hurt.",
    "The pharmacist explained how often I should take the antibiotic pills.",
    "Coral reefs are home to about a quarter of all marine species.",
    "We rented a small cabin in the mountains for our summer vacation.",
    "The guitarist broke a string in the middle of the song but kept playing.",
    "Honey never spoils if it is stored in a tightly sealed jar.",
    "The bank raised the interest rate on savings accounts this month.",
    "Firefighters rescued a kitten that was stuck on the roof of a shed.",
    "The ancient Egyptians built the pyramids as tombs for their pharaohs.",
    "Our car needs new tires before we drive across the country in June.",
    "The pull of the moon causes the rising and falling of ocean tides.",
    "She learned to speak fluent Spanish after living in Madrid for two years.",
    "The hospital opened a new wing for children who are treated for cancer.",
)

PASSAGES: tuple[Passage, ...] = (
    Passage(
        "printing press",
        "who brought movable type printing to Europe and what did it change",
        "Around 1440, the goldsmith Johannes Gutenberg developed a printing press in Mainz that used "
        "movable metal type, an oil-based ink and a screw press adapted from wine making. Before his "
        "invention, books in Europe were copied by hand, which made them rare and expensive. Within "
        "fifty years, printing shops had spread to more than two hundred cities and produced millions "
        "of volumes. Cheaper books helped spread literacy, allowed scholars to share identical texts, "
        "and played a major role in the Reformation and the scientific revolution.",
    ),
    Passage(
        "risotto",
        "how do I make risotto creamy without adding cream",
        "A good risotto starts with a short-grain rice such as arborio or carnaroli, which releases "
        "starch as it cooks. Gently soften a chopped onion in butter, then toast the rice for a minute "
        "until the grains turn translucent at the edges. Add a splash of white wine and let it "
        "evaporate. Pour in hot stock one ladle at a time, stirring often and waiting until each "
        "addition is absorbed. After about eighteen minutes, take the pan off the heat and beat in cold "
        "butter and grated parmesan, which gives the dish its silky texture.",
    ),
    Passage(
        "black holes",
        "what happens when something falls into a black hole",
        "A black hole is a region of space where gravity is so strong that nothing, not even light, "
        "can escape once it crosses a boundary called the event horizon. Most black holes form when a "
        "massive star runs out of fuel and its core collapses. An object falling toward one would be "
        "stretched by tidal forces, a process astronomers jokingly call spaghettification. To a distant "
        "observer, the falling object appears to slow down and fade as it nears the horizon, because "
        "time itself is stretched by the extreme gravity.",
    ),
    Passage(
        "security deposits",
        "can my landlord keep my deposit when I move out",
        "When a tenancy ends, a landlord may deduct from the security deposit only the cost of unpaid "
        "rent and of repairing damage beyond normal wear and tear. Faded paint, minor scuffs and worn "
        "carpet in a busy hallway usually count as normal wear and cannot be charged to the tenant. In "
        "many jurisdictions the landlord must return the deposit, together with an itemized list of any "
        "deductions, within a fixed period such as fourteen or thirty days. Tenants who photograph the "
        "property when they move in are in a much stronger position in any later dispute.",
    ),
    Passage(
        "photosynthesis",
        "how do plants make food from sunlight",
        "Photosynthesis is the process by which green plants, algae and some bacteria capture the "
        "energy of sunlight and store it as sugar. Inside the chloroplasts of leaf cells, the pigment "
        "chlorophyll absorbs mostly red and blue light. That energy splits water molecules, releasing "
        "oxygen as a by-product, and drives a cycle of reactions that combines carbon dioxide from the "
        "air into glucose. The plant uses this glucose for growth and energy, and nearly every food "
        "chain on Earth depends on it.",
    ),
    Passage(
        "plate tectonics",
        "why do earthquakes happen in some places and not others",
        "The outer shell of the Earth is broken into large rigid plates that move a few centimeters "
        "each year, carried by slow convection in the mantle beneath them. Where plates collide, pull "
        "apart or slide past one another, stress builds up in the rocks along their edges. When the "
        "rocks finally slip, the stored energy is released as seismic waves, and we feel an "
        "earthquake. This is why most earthquakes and volcanoes cluster along plate boundaries, such as "
        "the Ring of Fire that circles the Pacific Ocean.",
    ),
    Passage(
        "index funds",
        "are index funds a good way to invest for retirement",
        "An index fund is an investment fund that simply holds all the stocks in a market index, such "
        "as the S&P 500, instead of paying managers to pick winners. Because it trades rarely and needs "
        "no research team, its annual fees are often below a tenth of a percent. Over long periods, "
        "most actively managed funds fail to beat their index once fees are deducted. For savers with "
        "decades until retirement, low costs and broad diversification, combined with the effect of "
        "compound growth, make index funds a popular choice.",
    ),
    Passage(
        "piano",
        "how does a piano make a sound when you press a key",
        "When a pianist presses a key, a system of levers called the action throws a small felt-covered "
        "hammer against a set of steel strings. At the same moment, a damper lifts away from the "
        "strings so they can vibrate freely. The strings themselves are thin and make little sound, so "
        "their vibration passes through a wooden bridge into the soundboard, a large thin panel of "
        "spruce that amplifies it. Releasing the key lets the damper fall back, which stops the note "
        "unless the sustain pedal is held down.",
    ),
    Passage(
        "offside rule",
        "what does offside mean in soccer",
        "In association football, a player is in an offside position if any part of the head, body or "
        "feet is in the opponents' half and closer to the goal line than both the ball and the "
        "second-last defender. Being in that position is not an offence by itself. The referee only "
        "penalizes it when the player becomes involved in active play at the moment a teammate passes "
        "the ball. A player cannot be offside when receiving the ball directly from a goal kick, a "
        "throw-in or a corner kick. The punishment is an indirect free kick.",
    ),
    Passage(
        "vaccines",
        "how do vaccines teach the body to fight a disease",
        "A vaccine exposes the immune system to a harmless piece or weakened form of a pathogen, such "
        "as a protein from the surface of a virus. White blood cells recognize this material as foreign "
        "and produce antibodies against it. Some of these cells survive for years as memory cells. If "
        "the real pathogen later enters the body, the memory cells recognize it quickly and launch a "
        "strong response before the infection can take hold. When enough people are vaccinated, even "
        "those who cannot be immunized are protected, because the disease struggles to spread.",
    ),
    Passage(
        "public-key cryptography",
        "how can two people exchange secret messages without sharing a password first",
        "Public-key cryptography gives every user a pair of mathematically linked keys. The public key "
        "can be shared with anyone, while the private key is kept secret. A message encrypted with "
        "someone's public key can only be decrypted with the matching private key, so strangers can "
        "communicate securely without ever meeting to agree on a shared password. The same idea "
        "powers digital signatures: a document signed with a private key can be verified by anyone "
        "holding the public key. Systems such as RSA rely on the difficulty of factoring very large "
        "numbers.",
    ),
    Passage(
        "gothic cathedrals",
        "why do old cathedrals have stone supports on the outside walls",
        "Gothic cathedrals, built in Europe from the twelfth century onward, were designed to reach "
        "great heights and to fill their interiors with light. Pointed arches and ribbed vaults "
        "channeled the heavy weight of the stone roof down onto a few narrow columns. The outward "
        "push of the vaults was carried by flying buttresses, arched supports standing outside the "
        "walls. Because the walls no longer had to carry the whole load, builders could replace much "
        "of the stone with enormous stained glass windows, such as those at Chartres and Notre-Dame.",
    ),
    Passage(
        "indo-european languages",
        "why do english and hindi share some similar words",
        "Most languages of Europe and many of South Asia descend from a single ancestor that linguists "
        "call Proto-Indo-European, spoken perhaps six thousand years ago. Its daughters include the "
        "Germanic languages such as English and German, the Romance languages, the Slavic languages, "
        "Greek, Persian, and Hindi. Scholars reconstructed this family by comparing regular sound "
        "patterns: the word for father, for example, is pater in Latin, pitar in Sanskrit and father in "
        "English. Today nearly half of the world's population speaks an Indo-European language.",
    ),
    Passage(
        "rust",
        "why does iron turn orange and flaky when left outside",
        "Rust forms when iron reacts with oxygen in the presence of water, producing hydrated iron "
        "oxide. The reaction is electrochemical: water acts as an electrolyte that lets electrons "
        "flow from the metal to oxygen. Salt dissolved in the water speeds the process, which is why "
        "cars corrode faster in coastal towns and in places where roads are salted in winter. Unlike "
        "the thin oxide layer on aluminum, rust is porous and flakes away, exposing fresh metal "
        "underneath. Paint, oil and a coating of zinc, called galvanizing, all slow it down.",
    ),
    Passage(
        "gulf stream",
        "why is western europe warmer than canada at the same latitude",
        "The Gulf Stream is a powerful ocean current that carries warm water from the Gulf of Mexico "
        "along the coast of North America and across the Atlantic. Its extension, the North Atlantic "
        "Drift, releases heat into the air above it, and prevailing westerly winds carry that warmth "
        "over Europe. As a result, cities such as Dublin and London enjoy much milder winters than "
        "places at the same latitude in Canada. Scientists monitor the current closely, because melting "
        "Arctic ice could weaken the circulation that drives it.",
    ),
    Passage(
        "crop rotation",
        "why shouldn't a farmer plant the same crop in a field every year",
        "Crop rotation means growing different crops in the same field in successive seasons. Planting "
        "one crop year after year drains the soil of particular nutrients and lets pests and diseases "
        "that feed on it build up. A classic rotation alternates cereals such as wheat with legumes "
        "such as beans or clover, whose roots host bacteria that fix nitrogen from the air and enrich "
        "the soil for the next crop. Medieval farmers used a three-field system, and modern farms still "
        "rotate crops to reduce their need for fertilizer.",
    ),
    Passage(
        "confirmation bias",
        "why do people only pay attention to facts that agree with them",
        "Confirmation bias is the tendency to search for, interpret and remember information in a way "
        "that supports what we already believe. In experiments, people asked to test a rule usually "
        "look for examples that fit it rather than examples that could prove it wrong. The bias "
        "affects doctors making diagnoses, investors following favorite stocks and readers choosing "
        "news sources. Psychologists suggest deliberately looking for evidence against a belief, or "
        "asking someone to argue the opposite side, as practical ways to reduce its influence.",
    ),
    Passage(
        "inflation and central banks",
        "why does the central bank raise interest rates when prices go up",
        "Inflation is a general rise in prices that reduces what each unit of money can buy. Most "
        "central banks aim to keep it near two percent a year. Their main tool is the short-term "
        "interest rate. Raising it makes loans and mortgages more expensive, which cools spending and "
        "investment, so businesses have less room to raise prices. Lowering it does the opposite and "
        "is used to support the economy during a downturn. Because these effects take a year or more "
        "to appear, central banks must act on forecasts rather than on current data.",
    ),
    Passage(
        "hamlet",
        "what is the story of shakespeare's play about the danish prince",
        "Hamlet, written by William Shakespeare around 1600, is the tragedy of a prince of Denmark. "
        "The ghost of his father tells him that he was murdered by his own brother Claudius, who has "
        "since taken the throne and married the queen. Hamlet pretends to be mad while he tests the "
        "truth of the story, staging a play that mirrors the crime. His hesitation and his fateful "
        "mistakes lead to the deaths of Polonius, Ophelia, Laertes, the queen, Claudius and finally "
        "Hamlet himself in a poisoned duel.",
    ),
    Passage(
        "impressionism",
        "what made monet and the impressionists different from earlier painters",
        "Impressionism began in Paris in the 1870s, when artists such as Claude Monet, Camille "
        "Pissarro and Berthe Morisot broke away from the official Salon. Instead of polished "
        "historical scenes painted in the studio, they worked outdoors and tried to capture the "
        "changing effects of light and weather. They used quick, visible brushstrokes and pure colors "
        "placed side by side rather than blended. Critics mocked the movement, naming it after Monet's "
        "painting Impression, Sunrise, but it went on to transform Western art.",
    ),
    Passage(
        "greenhouse effect",
        "how does carbon dioxide make the planet warmer",
        "Sunlight passes through the atmosphere and warms the surface of the Earth, which then gives "
        "off heat as infrared radiation. Gases such as carbon dioxide, methane and water vapor absorb "
        "part of this infrared energy and send it back toward the ground. Without this natural "
        "greenhouse effect the planet would be frozen, with an average temperature around minus "
        "eighteen degrees Celsius. Burning coal, oil and gas has raised the concentration of carbon "
        "dioxide by about half since the industrial revolution, trapping more heat and warming the "
        "climate.",
    ),
    Passage(
        "jet engines",
        "how does the engine of an airliner push the plane forward",
        "A jet engine pulls air in at the front and compresses it with rows of spinning fan blades. "
        "The compressed air is mixed with fuel and burned in a combustion chamber, and the hot, "
        "expanding gas rushes out of the back at high speed. On its way out, it spins a turbine that "
        "drives the compressor. By Newton's third law, pushing the gas backward pushes the engine "
        "forward. Modern airliners use turbofans, in which a large front fan sends most of the air "
        "around the core, making them quieter and more efficient.",
    ),
    Passage(
        "camera exposure",
        "which camera settings make a photo brighter or darker",
        "Three settings control how much light reaches a camera's sensor. The aperture is the opening "
        "in the lens: a wider aperture lets in more light but makes the range of sharp focus shallower. "
        "The shutter speed sets how long the sensor is exposed; fast speeds freeze motion, while slow "
        "speeds blur it. The ISO setting amplifies the signal from the sensor, which brightens the "
        "image at the cost of visible noise. Photographers trade these three against each other to "
        "get the exposure and look they want.",
    ),
    Passage(
        "prime numbers",
        "is there a largest prime number",
        "A prime number is a whole number greater than one that can be divided evenly only by one and "
        "itself, such as 2, 3, 5, 7 and 11. More than two thousand years ago, Euclid proved that the "
        "primes never run out. Suppose there were only finitely many: multiply them all together and "
        "add one. The result leaves a remainder of one when divided by any prime on the list, so it "
        "must have a prime factor that is missing from the list. Therefore no list of primes can ever "
        "be complete.",
    ),
    Passage(
        "stoicism",
        "what did ancient philosophers like marcus aurelius say about staying calm",
        "Stoicism was a school of philosophy founded in Athens by Zeno of Citium around 300 BC and "
        "later practiced by the Roman emperor Marcus Aurelius and the former slave Epictetus. The "
        "Stoics taught that we cannot control events, only our judgments about them, and that "
        "suffering comes from treating outside things as good or bad in themselves. A wise person "
        "focuses on virtue, accepts what cannot be changed and meets misfortune calmly. These ideas "
        "strongly influenced modern cognitive behavioral therapy.",
    ),
    Passage(
        "composting",
        "how do I turn kitchen scraps into soil for my garden",
        "Composting turns kitchen and garden waste into a dark, crumbly material that improves soil. A "
        "healthy pile mixes green materials rich in nitrogen, such as vegetable peels, coffee grounds "
        "and fresh grass clippings, with brown materials rich in carbon, such as dry leaves, straw and "
        "shredded cardboard. Keep the pile about as damp as a wrung-out sponge and turn it every week "
        "or two to let in air. Avoid meat, dairy and oily food, which attract pests. Finished compost "
        "is usually ready in two to six months.",
    ),
    Passage(
        "wright brothers",
        "when was the first airplane flight and who flew it",
        "On December 17, 1903, at Kitty Hawk in North Carolina, Orville and Wilbur Wright made the "
        "first controlled, sustained flight of a powered aircraft that was heavier than air. The first "
        "flight, with Orville at the controls, lasted twelve seconds and covered thirty-seven meters. "
        "The brothers, who ran a bicycle shop in Dayton, Ohio, had spent years testing gliders and "
        "built their own wind tunnel. Their key insight was a system of wing warping that let the pilot "
        "control the roll of the plane.",
    ),
    Passage(
        "dietary fiber",
        "why are whole grains and beans good for digestion",
        "Dietary fiber is the part of plant foods that the body cannot digest. Soluble fiber, found in "
        "oats, beans and apples, dissolves in water to form a gel that slows the absorption of sugar "
        "and helps lower cholesterol. Insoluble fiber, found in whole grains and vegetable skins, adds "
        "bulk and keeps food moving through the intestines. Fiber also feeds the helpful bacteria in "
        "the gut. Health authorities recommend roughly twenty-five to thirty grams a day, but most "
        "adults eat far less.",
    ),
    Passage(
        "silk",
        "how is silk fabric made from worms",
        "Silk is a natural protein fiber spun by the caterpillar of the silk moth, which feeds only on "
        "mulberry leaves. When it is ready to transform, the caterpillar wraps itself in a cocoon made "
        "of a single continuous thread that can be more than a kilometer long. Producers boil or steam "
        "the cocoons to loosen the thread and then unwind several filaments together onto a reel. "
        "China kept the method secret for thousands of years, and the trade routes that carried the "
        "cloth westward became known as the Silk Road.",
    ),
    Passage(
        "monarch butterflies",
        "where do orange and black butterflies go in the winter",
        "Each autumn, millions of monarch butterflies from Canada and the eastern United States fly "
        "south as far as four thousand kilometers to spend the winter in the mountain forests of "
        "central Mexico. They cluster by the thousands on fir trees, where the cool, humid air lets "
        "them rest without using up their fat reserves. In spring they mate and head north, but no "
        "single butterfly completes the round trip: it takes three or four generations to return, and "
        "yet the great-grandchildren find the same forests the next year.",
    ),
    Passage(
        "john snow and cholera",
        "how did a doctor prove that cholera came from dirty drinking water",
        "In 1854 a severe outbreak of cholera killed more than six hundred people in the Soho district "
        "of London. Most doctors at the time believed the disease spread through bad air. The "
        "physician John Snow marked each death on a map and noticed that the cases clustered around a "
        "public water pump on Broad Street. He persuaded local officials to remove the pump handle, "
        "and the outbreak faded. His careful study is now considered a founding moment of modern "
        "epidemiology and led to better sewers and clean water supplies.",
    ),
    Passage(
        "nuclear power",
        "how does a nuclear reactor produce electricity",
        "A nuclear power station generates heat by splitting the nuclei of uranium atoms, a process "
        "called fission. Each split releases energy and a few neutrons, which go on to split further "
        "atoms in a controlled chain reaction. Control rods that absorb neutrons are raised or lowered "
        "to keep the reaction steady. The heat boils water into steam, which spins a turbine connected "
        "to a generator, just as in a coal plant. The plant emits almost no carbon dioxide, but its "
        "used fuel stays radioactive for thousands of years.",
    ),
    Passage(
        "rosetta stone",
        "how did scholars learn to read egyptian hieroglyphs",
        "The Rosetta Stone is a slab of granodiorite discovered in 1799 by French soldiers near the "
        "town of Rashid in the Nile delta. It carries the same decree from 196 BC written three times: "
        "in hieroglyphs, in demotic script and in ancient Greek. Because scholars could read the Greek, "
        "the stone offered a key to the other two. Building on the work of Thomas Young, the French "
        "scholar Jean-François Champollion announced in 1822 that hieroglyphs recorded sounds as well "
        "as ideas, and he went on to decipher them.",
    ),
    Passage(
        "version control",
        "what is git and why do programmers use it",
        "A version control system records every change made to a set of files, so developers can see "
        "who changed what and return to any earlier state. Git, created by Linus Torvalds in 2005 for "
        "the Linux kernel, gives each developer a full copy of the project history. Work happens on "
        "branches, which let people try ideas without disturbing the main code, and finished work is "
        "merged back after review. Because every change is stored as a snapshot with a message, teams "
        "can track down exactly when a bug was introduced.",
    ),
)

# One video per photo: what the narrator says, and how a user might search for it.
VIDEO_SCRIPTS: tuple[VideoScript, ...] = (
    VideoScript("chelsea", "A tabby cat stares at the camera with big green eyes.",
                "cat looking straight at the viewer"),
    VideoScript("coffee", "A hot cup of espresso sits on a red saucer.",
                "espresso served in a small cup"),
    VideoScript("rocket", "A rocket waits on the launch pad before lift off.",
                "spacecraft ready for launch at night"),
    VideoScript("astronaut", "An astronaut in an orange suit smiles for her portrait.",
                "portrait of a woman in a spacesuit"),
    VideoScript("camera", "A photographer looks through his camera on a tripod.",
                "man taking pictures outdoors"),
    VideoScript("horse", "The dark outline of a horse stands on a white background.",
                "silhouette of a stallion"),
    VideoScript("hubble_deep_field", "Countless galaxies shine in this deep view of the sky.",
                "telescope picture of distant galaxies"),
    VideoScript("moon", "The surface of the moon is covered in craters.",
                "close view of the lunar landscape"),
    VideoScript("brick", "This is a plain gray wall made of bricks.",
                "masonry wall texture"),
    VideoScript("coins", "Ancient coins are arranged in neat rows on a table.",
                "a collection of old money"),
    VideoScript("colorwheel", "A color wheel shows every hue from red to violet.",
                "circle of rainbow colors"),
    VideoScript("retina", "Doctors photograph the retina to check the health of the eye.",
                "eye exam image of the back of the eye"),
)  # fmt: skip
